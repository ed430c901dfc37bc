-- monitor.lua: in monitor mode a message over every threshold, carrying a
-- forged X-Spam-Flag, is accepted with no change at all.
dofile(libdir .. "/lib.lua")
local conn = open("192.0.2.14")
local r = send(conn, qid, msg, {{"X-Spam-Flag", "NO"}})
check(r == SMFIR_CONTINUE, "accepted (reply " .. tostring(r) .. ")")
check(not mt.eom_check(conn, MT_HDRADD), "no header added")
check(not mt.eom_check(conn, MT_HDRDELETE), "no header removed")
check(not mt.eom_check(conn, MT_HDRCHANGE), "no header changed")
mt.disconnect(conn)
