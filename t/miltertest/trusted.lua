-- trusted.lua: clients in trusted_networks (default 127.0.0.0/8, ::1/128)
-- are not scanned; a client outside them is.
dofile(libdir .. "/lib.lua")
for i, ip in ipairs({"127.0.0.1", "::1"}) do
    local conn = open(ip)
    local r = send(conn, qid .. i, msg)
    check(r == SMFIR_ACCEPT, ip .. " accepted at end-of-header (reply " .. tostring(r) .. ")")
    mt.disconnect(conn)
end
local conn = open("2001:db8::25")
local r = send(conn, qid .. "3", msg)
check(r == SMFIR_CONTINUE and header(conn, "X-Spam-Status") ~= nil, "2001:db8::25 is scanned")
mt.disconnect(conn)
