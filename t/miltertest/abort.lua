-- abort.lua: messages aborted mid-body (many of them) leave nothing behind:
-- the next message on the same connection is scanned normally. The runner
-- checks the daemon's exit (LeakSanitizer in the sanitizer build).
dofile(libdir .. "/lib.lua")
local conn = open("192.0.2.18")
local headers, body = readmsg(msg)
for i = 1, 50 do
    check(mt.macro(conn, SMFIC_MAIL, "i", qid .. "x" .. i) == nil, "macro")
    check(mt.mailfrom(conn, "<sender@example.net>") == nil, "mailfrom")
    for _, h in ipairs(headers) do check(mt.header(conn, h[1], h[2]) == nil, "header") end
    check(mt.eoh(conn) == nil, "eoh")
    check(mt.bodystring(conn, body:sub(1, 20)) == nil, "body")
    check(mt.abort(conn) == nil, "abort")
end
local r = send(conn, qid, msg)
check(r == SMFIR_CONTINUE, "message after the aborts accepted")
check_headers(conn, score, required, false)
mt.disconnect(conn)
-- and a connection dropped mid-body, without abort or quit
conn = open("192.0.2.19")
check(mt.macro(conn, SMFIC_MAIL, "i", qid .. "drop") == nil, "macro")
check(mt.mailfrom(conn, "<sender@example.net>") == nil, "mailfrom")
for _, h in ipairs(headers) do check(mt.header(conn, h[1], h[2]) == nil, "header") end
check(mt.bodystring(conn, body:sub(1, 20)) == nil, "body")
mt.disconnect(conn, false)
