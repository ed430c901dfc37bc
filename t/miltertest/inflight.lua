-- inflight.lua: a message in flight when the daemon gets SIGTERM still
-- gets its answer. After end-of-header the script creates the file named
-- by "marker" (the runner then sends SIGTERM), waits, and sends the rest.
dofile(libdir .. "/lib.lua")
mt.set_timeout(60)
local conn = open("192.0.2.22")
local headers, body = readmsg(msg)
check(mt.macro(conn, SMFIC_MAIL, "i", qid) == nil, "macro")
check(mt.mailfrom(conn, "<sender@example.net>") == nil, "mailfrom")
for _, h in ipairs(headers) do check(mt.header(conn, h[1], h[2]) == nil, "header") end
check(mt.eoh(conn) == nil, "eoh")
local f = io.open(marker, "w")
f:write("in flight\n")
f:close()
mt.sleep(1)
check(mt.bodystring(conn, body) == nil, "body after SIGTERM")
check(mt.eom(conn) == nil, "eom after SIGTERM")
check(mt.getreply(conn) == SMFIR_CONTINUE, "accepted after SIGTERM")
check(header(conn, "X-Spam-Status") ~= nil, "classified after SIGTERM")
mt.disconnect(conn)
