-- timeout.lua: when classify_timeout passes, on_timeout applies; with
-- on_timeout = accept the message is delivered with X-Spam-Unclassified.
dofile(libdir .. "/lib.lua")
local conn = open("192.0.2.20")
local r = send(conn, qid, msg)
check(r == SMFIR_CONTINUE, "accepted (reply " .. tostring(r) .. ")")
check(header(conn, "X-Spam-Unclassified") == "timeout", "X-Spam-Unclassified: timeout")
check(header(conn, "X-Spam-Status") == nil, "no X-Spam-Status")
mt.disconnect(conn)
