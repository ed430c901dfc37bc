-- lib.lua: helpers shared by the llmspam miltertest scripts. The runner
-- (t/milter_miltertest.sh) passes globals with -D: sock, and per script
-- the message file and the expected values computed with llmspam classify.

-- miltertest does not always show a script's error text: print it first
function fail(msg)
    mt.echo("FAIL: " .. msg)
    error(msg, 2)
end

function check(cond, msg)
    if not cond then
        mt.echo("FAIL: " .. msg)
        error("check failed: " .. msg, 2)
    end
end

-- Connect, negotiate with libmilter's defaults, announce the client.
function open(ip)
    local conn = mt.connect(sock, 50, 0.1)
    if conn == nil then fail("cannot connect to " .. sock) end
    local err = mt.conninfo(conn, "client.example", ip)
    if err ~= nil then fail("conninfo: " .. err) end
    return conn
end

-- Read an .eml file: a list of {name, value} and the body with CRLF line
-- ends, as an MTA passes them. Folded header lines stay in their value.
function readmsg(path)
    local f = io.open(path, "rb")
    if f == nil then fail("cannot read " .. path) end
    local text = f:read("*a")
    f:close()
    text = text:gsub("\r\n", "\n")
    local head, body = text:match("^(.-)\n\n(.*)$")
    if head == nil then head, body = text, "" end
    local headers = {}
    for line in (head .. "\n"):gmatch("(.-)\n") do
        if line:match("^[ \t]") and #headers > 0 then
            headers[#headers][2] = headers[#headers][2] .. "\r\n" .. line
        else
            local n, v = line:match("^([^:]+):[ \t]?(.*)$")
            if n == nil then fail("bad header line in " .. path .. ": " .. line) end
            headers[#headers + 1] = {n, v}
        end
    end
    body = body:gsub("\n", "\r\n")
    return headers, body
end

-- One message: MAIL FROM (with the queue id as the {i} macro), extra
-- headers first, then the file's headers and body. Stops after the headers
-- when the milter accepts at end-of-header (a skip). Returns the reply.
function send(conn, qid, path, extra, macros)
    local m = {"i", qid}
    for k, v in pairs(macros or {}) do
        m[#m + 1] = k
        m[#m + 1] = v
    end
    local err = mt.macro(conn, SMFIC_MAIL, table.unpack(m))
    if err ~= nil then fail("macro: " .. err) end
    err = mt.mailfrom(conn, "<sender@example.net>")
    if err ~= nil then fail("mailfrom: " .. err) end
    if not mt.test_option(conn, SMFIP_NORCPT) then
        err = mt.rcptto(conn, "<rcpt@example.org>")
        if err ~= nil then fail("rcptto: " .. err) end
    end
    local headers, body = readmsg(path)
    for _, h in ipairs(extra or {}) do
        err = mt.header(conn, h[1], h[2])
        if err ~= nil then fail("header: " .. err) end
    end
    for _, h in ipairs(headers) do
        err = mt.header(conn, h[1], h[2])
        if err ~= nil then fail("header: " .. err) end
    end
    err = mt.eoh(conn)
    if err ~= nil then fail("eoh: " .. err) end
    if mt.getreply(conn) == SMFIR_ACCEPT then return SMFIR_ACCEPT end
    -- body in chunks, as an MTA sends a large body
    local pos = 1
    while pos <= #body do
        err = mt.bodystring(conn, body:sub(pos, pos + 65535 - 1))
        if err ~= nil then fail("body: " .. err) end
        if mt.getreply(conn) == SMFIR_SKIP then break end
        pos = pos + 65535
    end
    err = mt.eom(conn)
    if err ~= nil then fail("eom: " .. err) end
    return mt.getreply(conn)
end

function header(conn, name)
    return mt.getheader(conn, name, 0)
end

-- Our headers for a classified message with the expected score string.
function check_headers(conn, expect_score, required, flagged)
    local status = header(conn, "X-Spam-Status")
    check(status ~= nil, "X-Spam-Status added")
    local want = (flagged and "Yes" or "No") .. ", score=" .. expect_score .. " required=" .. required
    check(status:sub(1, #want) == want, "X-Spam-Status '" .. tostring(status) .. "' starts with '" .. want .. "'")
    check(header(conn, "X-Spam-Score") == expect_score, "X-Spam-Score " .. tostring(header(conn, "X-Spam-Score")) .. " == " .. expect_score)
    local stars = math.floor(tonumber(expect_score) * 10 + 1e-9)
    check(header(conn, "X-Spam-Level") == string.rep("*", stars), "X-Spam-Level has " .. stars .. " stars")
    if flagged then
        check(mt.eom_check(conn, MT_HDRADD, "X-Spam-Flag", "YES"), "X-Spam-Flag: YES added")
    else
        check(not mt.eom_check(conn, MT_HDRADD, "X-Spam-Flag"), "no X-Spam-Flag")
    end
end
