-- The sandbox every script runs in, built once per Lua state (chunk name "=redis_internal",
-- which the error handler skips when it looks for the script's line).
local G, hooks = ...
local error, type, tostring, pairs, ipairs, rawget = G.error, G.type, G.tostring, G.pairs, G.ipairs, G.rawget
local setmetatable, setfenv, loadstring, xpcall = G.setmetatable, G.setfenv, G.loadstring, G.xpcall

local function readonly_error()
  error("Attempt to modify a readonly table", 2)
end

local function readonly(t)
  return setmetatable({}, {__index = t, __newindex = readonly_error, __metatable = false})
end

-- What scripts see as globals: the libraries read-only, the unsafe functions gone.
local visible = {}
for k, v in pairs(G) do visible[k] = v end
for _, k in ipairs({'print', 'setfenv', 'getfenv', 'newproxy', 'loadfile', 'dofile', 'module',
                    'require', 'package', 'debug', 'os', 'io', '_G'}) do
  visible[k] = nil
end
for _, k in ipairs({'string', 'math', 'table', 'coroutine', 'redis', 'cjson', 'cmsgpack', 'bit',
                    'struct'}) do
  if visible[k] then visible[k] = readonly(visible[k]) end
end

-- A global a script reads is found in `visible` by Lua's own table lookup (no function call
-- per read: `redis`, on every redis.call, is one); only a missing one reaches this function,
-- called from the script's frame all the same, so level 2 is the script.
local function missing_global(_, k)
  error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
end
local env_meta = {__index = visible, __newindex = readonly_error, __metatable = false}
local globals = setmetatable({}, env_meta)
visible._G = globals
-- Errors raised from Rust arrive as userdata; the value meant (a string or an {err=...}
-- table) waits in hooks.pending. Redis's own pcall answers an error table's message.
local function raised(e)
  if type(e) == 'userdata' and hooks.pending ~= nil then
    e = hooks.pending
    hooks.pending = nil
  end
  return e
end
local pcall = G.pcall
local function settle(ok, ...)
  if ok then return ok, ... end
  local e = raised((...))
  if type(e) == 'table' and type(rawget(e, 'err')) == 'string' then e = rawget(e, 'err') end
  return false, e
end
visible.pcall = function(f, ...) return settle(pcall(f, ...)) end
visible.xpcall = function(f, h)
  return xpcall(f, function(e) return h(raised(e)) end)
end
visible.loadstring = function(s, name)
  local f, e = loadstring(s, name)
  if f then setfenv(f, globals) end
  return f, e
end
setmetatable(visible, {__index = missing_global, __metatable = false})

-- FUNCTION LOAD runs a library's code with only a smaller `redis` (register_function, log,
-- the constants) as its globals; its functions, called later, see the full one. Both through one environment
-- per library, whose lookups depend on whether the library is loading.
local load_redis = {}
for _, k in ipairs({'log', 'LOG_DEBUG', 'LOG_VERBOSE', 'LOG_NOTICE', 'LOG_WARNING',
                    'REDIS_VERSION', 'REDIS_VERSION_NUM', 'setresp'}) do
  load_redis[k] = redis[k]
end
load_redis.register_function = hooks.register_function
setmetatable(load_redis, {__index = function(_, k)
  error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
end, __newindex = readonly_error, __metatable = false})
local loading = setmetatable({}, {__mode = 'k'})
local library_meta = {
  __index = function(t, k)
    local v
    if loading[t] then
      if k == 'redis' then v = load_redis end
    else
      v = rawget(visible, k)
    end
    if v == nil then
      error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
    end
    return v
  end,
  __newindex = readonly_error,
  __metatable = false,
}
function hooks.new_library_env()
  local env = setmetatable({}, library_meta)
  loading[env] = true
  return env
end
function hooks.library_loaded(env)
  loading[env] = nil
end

-- EVAL scripts' globals: the shared read-only ones plus KEYS and ARGV, which each run replaces
-- (Redis too keeps one global table for every script).
local eval_env = setmetatable({KEYS = {}, ARGV = {}}, env_meta)
hooks.eval_env = eval_env
hooks.globals = globals

-- Runs f(a, b) with the error handler that notes the script's line; f() when a is nil (a
-- library's code: Redis calls it with no arguments), which needs no closure. For a script or
-- function run, `call` is the run's bridge: it is `redis.call` (and what the other bridge
-- functions forward to) until the run ends. An EVAL script (`eval`) gets a (KEYS) and b (ARGV)
-- as globals in eval_env, and no arguments. All of a run's setup is here, in one call from
-- Rust, because each table write (or table handed over) from Rust costs more than the Lua
-- that does it.
local redis_functions, call_outside = G.redis, G.redis.call
local rawset = G.rawset
function hooks.run(f, a, b, call, eval)
  hooks.pending = nil
  if call then
    hooks.call = call
    redis_functions.call = call
  end
  local ok, v
  if eval then
    rawset(eval_env, 'KEYS', a)
    rawset(eval_env, 'ARGV', b)
    ok, v = xpcall(f, hooks.handler)
  elseif a == nil then
    ok, v = xpcall(f, hooks.handler)
  else
    ok, v = xpcall(function() return f(a, b) end, hooks.handler)
  end
  redis_functions.call = call_outside
  return ok, v
end
