-- ham.lua: a message under tag_threshold is accepted with our headers
-- (X-Spam-Status: No, ...), no flag, and the Subject untouched.
dofile(libdir .. "/lib.lua")
local conn = open("192.0.2.10")
local r = send(conn, qid, msg)
check(r == SMFIR_CONTINUE, "accepted (reply " .. tostring(r) .. ")")
check_headers(conn, score, required, false)
check(not mt.eom_check(conn, MT_HDRCHANGE, "Subject"), "Subject not rewritten")
mt.disconnect(conn)
