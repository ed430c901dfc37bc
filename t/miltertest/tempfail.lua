-- tempfail.lua: a message in the tempfail band [tempfail_threshold,
-- reject_threshold) gets the configured 4xx reply.
dofile(libdir .. "/lib.lua")
local conn = open("192.0.2.13")
local r = send(conn, qid, msg)
check(r == SMFIR_REPLYCODE, "tempfailed with a reply code (reply " .. tostring(r) .. ")")
check(mt.eom_check(conn, MT_SMTPREPLY, "451", "4.7.1", "Slow down, try later"), "reply 451 4.7.1 Slow down, try later")
check(not mt.eom_check(conn, MT_HDRADD), "no header added")
mt.disconnect(conn)
