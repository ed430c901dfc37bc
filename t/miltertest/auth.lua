-- auth.lua: a sender authenticated with SMTP AUTH ({auth_authen} at MAIL)
-- is not scanned: the milter accepts at end-of-header.
dofile(libdir .. "/lib.lua")
local conn = open("192.0.2.15")
local r = send(conn, qid, msg, nil, {["{auth_authen}"] = "alice"})
check(r == SMFIR_ACCEPT, "accepted at end-of-header (reply " .. tostring(r) .. ")")
-- the next message on the same connection, unauthenticated, is scanned
r = send(conn, qid .. "b", msg)
check(r == SMFIR_CONTINUE and header(conn, "X-Spam-Status") ~= nil, "next message is scanned")
mt.disconnect(conn)
