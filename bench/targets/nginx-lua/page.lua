-- The page: GET /<ms>/ (GET / is /300/) calls the country API's /<ms>/, /<2ms>/ and /<ms/2>/ as
-- three subrequests at once, and renders the first call's country and the fan-out's duration;
-- 504 when a call timed out (nginx's proxy answers 504), 502 when one failed.
-- nginx.conf.in compiles this file once in the master (RENDER) and runs it for each request.
local ms = tonumber(ngx.var[1]) or 300
if ms > 60000 then
    return ngx.exit(ngx.HTTP_NOT_FOUND)
end

ngx.update_time()
local start = ngx.now()
local answers = { ngx.location.capture_multi({
    { "/api/" .. ms .. "/" },
    { "/api/" .. 2 * ms .. "/" },
    { "/api/" .. math.floor(ms / 2) .. "/" },
}) }
ngx.update_time()
local seconds = ngx.now() - start

for i, res in ipairs(answers) do
    if res.status ~= ngx.HTTP_OK or res.truncated then
        local calls = { ms, 2 * ms, math.floor(ms / 2) }
        ngx.status = res.status == ngx.HTTP_GATEWAY_TIMEOUT and 504 or 502
        ngx.header.content_type = "text/plain"
        ngx.say("upstream /", calls[i], "/: status ", res.status)
        return ngx.exit(ngx.status)
    end
end

-- The answer is the API's one-line object, {"name": "...", "code": "..."}: a pattern reads it
-- without a JSON module (Debian's nginx Lua has none built in).
local name = answers[1].body:match('"name"%s*:%s*"(.-)"')
if not name then
    ngx.status = 502
    ngx.say("upstream /", ms, "/: bad answer")
    return ngx.exit(502)
end
local escapes = { ["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;", ['"'] = "&quot;", ["'"] = "&#39;" }
name = name:gsub("[&<>\"']", escapes)

-- PAGE: the page shared by the peers (bench/targets/page.html, read once by init_by_lua_block).
local html = PAGE:gsub("{{%.Name}}", function() return name end)
    :gsub("{{%.Seconds}}", string.format("%.3f", seconds))
ngx.print(html)
