-- oversize.lua: a message larger than max_message_bytes is scanned on its
-- prefix (never skipped): its score is the prefix's score.
dofile(libdir .. "/lib.lua")
local conn = open("192.0.2.17")
local r = send(conn, qid, msg)
check(r == SMFIR_CONTINUE, "accepted (reply " .. tostring(r) .. ")")
check(header(conn, "X-Spam-Score") == score, "scored on the prefix: " .. tostring(header(conn, "X-Spam-Score")) .. " == " .. score)
mt.disconnect(conn)
