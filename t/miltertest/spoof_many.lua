-- spoof_many.lua: past HEADERS_SPOOF_MAX (1000) arriving X-Spam-* headers
-- the forged ones could not all be removed: the message is tempfailed.
dofile(libdir .. "/lib.lua")
local conn = open("192.0.2.17")
local extra = {}
for i = 0, 1000 do
    extra[#extra + 1] = {"X-Spam-Forged-" .. i, "x"}
end
local r = send(conn, qid, msg, extra)
check(r == SMFIR_TEMPFAIL, "1001 forged headers: tempfail (reply " .. tostring(r) .. ")")
mt.disconnect(conn)
