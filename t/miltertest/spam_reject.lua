-- spam_reject.lua: a message at or over reject_threshold is rejected with
-- the configured reply, and no header is added.
dofile(libdir .. "/lib.lua")
local conn = open("192.0.2.12")
local r = send(conn, qid, msg)
check(r == SMFIR_REPLYCODE, "rejected with a reply code (reply " .. tostring(r) .. ")")
check(mt.eom_check(conn, MT_SMTPREPLY, "550", "5.7.1", "Go away, spammer"), "reply 550 5.7.1 Go away, spammer")
check(not mt.eom_check(conn, MT_HDRADD), "no header added")
mt.disconnect(conn)
