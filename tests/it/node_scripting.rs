//! `slotgate node`: Lua scripting (EVAL family, SCRIPT family) against redis-server 7.0.
//!
//! The same scripts run on both servers and must answer the same bytes: conversions both
//! ways (RESP2 and RESP3), every error text (compile, runtime, `redis.call` refusals, the
//! sandbox's), `pcall`, shebang flags and the read-only variants, and the bundled libraries.

use crate::harness::Differential;

/// A small deterministic generator for the randomized sequences.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

#[test]
fn lua_values_convert_to_replies() {
    let mut d = Differential::start();
    for script in [
        "return 1",
        "return -7",
        "return 3.99",
        "return -3.99",
        "return 1e20",
        "return 'hello'",
        "return ''",
        "return true",
        "return false",
        "return nil",
        "return {}",
        "return {1, 2, 3}",
        "return {1, 2, nil, 4}",
        "return {1, 'two', {3, {4, 'five'}}, false, true}",
        "return {ok = 'fine'}",
        "return {ok = 'a\\r\\nb'}",
        "return {err = 'My Error'}",
        "return {err = 'plain'}",
        "return {err = 'x\\ny'}",
        "return {double = 3.5}",
        "return {double = 1}",
        "return {big_number = '123456789012345678901234567890'}",
        "return {map = {a = 1}}",
        "return {set = {x = true}}",
        "return {1, {ok = 'st'}, {err = 'E inner'}}",
        "return redis.status_reply('PONG')",
        "return redis.error_reply('CUSTOM oops')",
        "return redis.error_reply('-CUSTOM oops')",
        "return redis.error_reply('nocode')",
        "return redis.error_reply(1)",
        "return redis.status_reply()",
        "return {redis.sha1hex(''), redis.sha1hex('abc'), redis.sha1hex(12)}",
        "return {redis.REDIS_VERSION, redis.LOG_WARNING, redis.REPL_ALL}",
        "return _VERSION",
        "return function() end",
        "return 0/0 == 0/0",
    ] {
        d.check(&["EVAL", script, "0"]);
    }
    // The same values to a RESP3 client.
    d.both(&["HELLO", "3"]);
    for script in [
        "return true",
        "return false",
        "return nil",
        "return {double = 3.5}",
        "return {big_number = '12345678901234567890'}",
        "return {map = {a = 1}}",
        "return {set = {x = true}}",
        "redis.setresp(3) return true",
        "redis.setresp(3) return false",
        "redis.setresp(3) return {1, true, false}",
    ] {
        d.check(&["EVAL", script, "0"]);
    }
}

#[test]
fn replies_convert_to_lua_values() {
    let mut d = Differential::start();
    d.check_all(&[
        &["SET", "s", "v"],
        &["RPUSH", "l", "a", "b", "c"],
        &["HSET", "h", "f", "1"],
        &["SADD", "set", "m"],
        &["ZADD", "z", "1.5", "m"],
    ]);
    for script in [
        "return redis.call('GET', 's')",
        "return redis.call('GET', 'missing')",
        "return type(redis.call('GET', 'missing'))",
        "return redis.call('SET', 'x', 'y')",
        "return redis.call('SET', 'x', 'y').ok",
        "return redis.call('INCR', 'n')",
        "return type(redis.call('INCR', 'n'))",
        "return redis.call('LRANGE', 'l', 0, -1)",
        "return redis.call('HGETALL', 'h')",
        "return redis.call('ZRANGE', 'z', 0, -1, 'WITHSCORES')",
        "return redis.call('SET', 'f', 0.1)",
        "return redis.call('GET', 'f')",
        "return redis.call('SET', 'f', 1e100) and redis.call('GET', 'f')",
        "return redis.call('EXISTS', 's', 'l', 'none')",
        "return redis.pcall('LPUSH', 's', 'x')",
        "return redis.pcall('LPUSH', 's', 'x').err",
        "return redis.pcall('LPUSH', 's', 'x').ignore_err_stats_update",
        "return redis.call('BLPOP', 'empty', 0)",
        "return redis.call('SELECT', 1)",
        "return redis.call('DBSIZE')",
        "redis.setresp(3) return redis.call('HGETALL', 'h')",
        "redis.setresp(3) return redis.call('HGETALL', 'h').map.f",
        "redis.setresp(3) return redis.call('SMEMBERS', 'set')",
        "redis.setresp(3) return redis.call('SMEMBERS', 'set').set.m",
        "redis.setresp(3) return redis.call('ZSCORE', 'z', 'm')",
        "redis.setresp(3) return redis.call('ZSCORE', 'z', 'm').double",
        "redis.setresp(3) return redis.call('GET', 'missing') == nil",
        "redis.setresp(3) return redis.call('HGETALL', 'nokey')",
        "redis.setresp(2) return redis.call('HGETALL', 'h')",
    ] {
        d.check(&["EVAL", script, "0"]);
    }
    // SELECT inside a script does not change the caller's database.
    d.check(&["GET", "s"]);
}

#[test]
fn keys_and_argv_reach_the_script() {
    let mut d = Differential::start();
    d.check(&[
        "EVAL",
        "return {KEYS[1], KEYS[2], ARGV[1], ARGV[2], #KEYS, #ARGV}",
        "2",
        "k1",
        "k2",
        "a1",
        "a2",
    ]);
    d.check(&[
        "EVAL",
        "return redis.call('SET', KEYS[1], ARGV[1])",
        "1",
        "key",
        "value",
    ]);
    d.check(&["GET", "key"]);
    d.check(&["EVAL", "return #KEYS", "0"]);
    d.check(&["EVAL", "return 1", "-1"]);
    d.check(&["EVAL", "return 1", "2", "only"]);
    d.check(&["EVAL", "return 1", "x"]);
    d.check(&["EVAL", "return 1"]);
    d.check(&["EVAL"]);
}

#[test]
fn errors_match_redis() {
    let mut d = Differential::start();
    d.check(&["SET", "s", "v"]);
    for script in [
        "return x",
        "x = 1",
        "local t = {} t.x = 1 return t.x",
        "string.foo = 1",
        "redis.call = nil",
        "return 1 +",
        "return (",
        "\nerror('boom')",
        "error({err = 'BOOM custom'})",
        "error('no position', 0)",
        "error(42)",
        "error()",
        "local x = nil; return x.y",
        "return redis.call('nosuch')",
        "return redis.call('get')",
        "return redis.call('config')",
        "return redis.call('client', 'nosuch')",
        "return redis.call('eval', 'return 1', 0)",
        "return redis.call('multi')",
        "return redis.call('subscribe', 'c')",
        "return redis.call('lpush', 's', 'x')",
        "return redis.call('get', {})",
        "return redis.call('get', nil)",
        "return redis.call()",
        "return redis.pcall()",
        "return redis.pcall('nosuch')",
        "return redis.pcall('get', {})",
        "local ok, e = pcall(redis.call, 'nosuch') return {tostring(ok), type(e), e}",
        "local ok, e = pcall(error, {err = 'X y'}) return e",
        "local ok, e = pcall(error, 'plain') return e",
        "return redis.sha1hex()",
        "return redis.setresp()",
        "return redis.setresp(4)",
        "return redis.log()",
        "return redis.log('x', 'y')",
        "return redis.log(9, 'y')",
        "return redis.set_repl(99)",
        "return redis.set_repl()",
        "redis.set_repl(redis.REPL_ALL) return 1",
        "redis.log(redis.LOG_WARNING, 'from a test') return 1",
        "return {redis.breakpoint(), redis.debug('x')}",
        "return redis.replicate_commands()",
        "return redis.acl_check_cmd('get', 'k')",
        "return redis.acl_check_cmd('nosuch')",
        "return math.random(1, 2, 3)",
        "return math.random(0)",
        "return bit.band('x')",
        "return cjson.decode('{')",
        "return cjson.encode({[1] = 1, [20] = 2})",
        "return cjson.encode(function() end)",
        "return loadfile",
        "return print",
        "return getfenv",
        "return debug",
        "return os",
    ] {
        d.check(&["EVAL", script, "0"]);
    }
    d.check(&["EVALSHA", "ffffffffffffffffffffffffffffffffffffffff", "0"]);
    d.check(&["EVALSHA", "short", "0"]);
    d.check(&[
        "EVALSHA_RO",
        "ffffffffffffffffffffffffffffffffffffffff",
        "0",
    ]);
}

#[test]
fn the_script_cache_follows_redis() {
    let mut d = Differential::start();
    let sha = d.check(&["SCRIPT", "LOAD", "return 'loaded'"]);
    let sha = String::from_utf8_lossy(&sha);
    let sha = sha.lines().nth(1).unwrap().to_string();
    d.check(&["EVALSHA", &sha, "0"]);
    d.check(&["EVALSHA", &sha.to_uppercase(), "0"]);
    d.check(&["EVALSHA_RO", &sha, "0"]);
    d.check(&[
        "SCRIPT",
        "EXISTS",
        &sha,
        "ffffffffffffffffffffffffffffffffffffffff",
        &sha.to_uppercase(),
    ]);
    d.check(&["EVAL", "return 'cached by eval'", "0"]);
    d.check(&[
        "SCRIPT",
        "EXISTS",
        "2f6e0a9d7b08d4d5b3cfd4ef1bd6ad84b2a2a3a3",
    ]);
    d.check(&["SCRIPT", "LOAD", "return 1 +"]);
    d.check(&["SCRIPT", "LOAD", "#!lua flags=bogus\nreturn 1"]);
    d.check(&["SCRIPT", "FLUSH", "BOGUS"]);
    d.check(&["SCRIPT", "FLUSH", "SYNC", "extra"]);
    d.check(&["SCRIPT", "FLUSH"]);
    d.check(&["SCRIPT", "EXISTS", &sha]);
    d.check(&["EVALSHA", &sha, "0"]);
    d.check(&["SCRIPT", "LOAD", "return 2"]);
    d.check(&["SCRIPT", "FLUSH", "ASYNC"]);
    d.check(&["SCRIPT", "FLUSH", "sync"]);
    d.check(&["SCRIPT", "KILL"]);
    d.check(&["SCRIPT", "NOSUCH"]);
    d.check(&["SCRIPT", "HELP"]);
    d.check(&["SCRIPT"]);
}

#[test]
fn shebang_flags_and_read_only_variants() {
    let mut d = Differential::start();
    for (cmd, script) in [
        ("EVAL", "#!lua\nreturn redis.call('SET', 'a', '1')"),
        ("EVAL", "#!lua flags=no-writes\nreturn redis.call('SET', 'a', '1')"),
        ("EVAL", "#!lua flags=no-writes\nreturn redis.call('GET', 'a')"),
        ("EVAL", "#!lua flags=no-writes,allow-oom,allow-stale,no-cluster,allow-cross-slot-keys\nreturn 1"),
        ("EVAL", "#!lua flags=\nreturn 1"),
        ("EVAL", "#!lua flags=bogus\nreturn 1"),
        ("EVAL", "#!lua name=x\nreturn 1"),
        ("EVAL", "#!python\nreturn 1"),
        ("EVAL", "#!lua"),
        ("EVAL", "#!lua flags=no-writes\nreturn x"),
        ("EVAL_RO", "return redis.call('GET', 'a')"),
        ("EVAL_RO", "return redis.call('SET', 'a', '2')"),
        ("EVAL_RO", "return redis.call('PUBLISH', 'ch', 'm')"),
        ("EVAL_RO", "return redis.pcall('DEL', 'a')"),
        ("EVAL_RO", "#!lua\nreturn 1"),
        ("EVAL_RO", "#!lua flags=no-writes\nreturn redis.call('GET', 'a')"),
    ] {
        d.check(&[cmd, script, "0"]);
    }
}

#[test]
fn libraries_answer_like_redis() {
    let mut d = Differential::start();
    for script in [
        "return {math.random(), math.random(100), math.random(5, 10)}",
        "return {math.random(1000), math.random(1000), math.random(1000)}",
        "math.randomseed(42) return {math.random(1000), math.random(1000)}",
        "return {math.floor(3.7), math.max(1, 5, 3), math.huge > 0, math.fmod(7, 3)}",
        "return {string.format('%d-%s-%5.2f', 7, 'x', 3.14159), string.rep('ab', 3)}",
        "return {string.byte('A'), string.char(72, 105), string.upper('abc'), ('x'):len()}",
        "return {string.find('hello world', 'o w'), string.gsub('aaa', 'a', 'b')}",
        "local t = {3, 1, 2} table.sort(t) return t",
        "return table.concat({1, 2, 3}, ',')",
        "return {tonumber('0x10'), tonumber('12'), tostring(12.5), type(unpack)}",
        "return {bit.tohex(65535), bit.tohex(-1, -4), bit.bxor(5, 3), bit.band(12, 10), bit.bor(1, 2, 4)}",
        "return {bit.lshift(1, 31), bit.rshift(-1, 28), bit.arshift(-256, 4), bit.rol(1, 33), bit.ror(1, 1)}",
        "return {bit.tobit(4294967296 + 7), bit.bnot(0), bit.bswap(0x12345678)}",
        "return cjson.encode({1, 2, {a = 1}})",
        "return cjson.encode({a = 'x/y', b = '\\n\\t\"'})",
        "return cjson.encode({})",
        "return cjson.encode(1.5)",
        "return cjson.encode({true, false, cjson.null})",
        "return cjson.decode('[1,2.5,\"s\",true,false]')",
        "return cjson.decode('{\"a\":{\"b\":[1,2]}}').a.b",
        "return type(cjson.decode('null'))",
        "return cjson.decode('\"\\\\u0041\\\\n\"')",
        "return cjson.decode('[1,]')",
        "return cjson.decode('')",
        "return tostring(cjson.null)",
        "return type(coroutine.create)",
        "return {pcall(function() error('inside') end)}",
        "return select('#', 1, 2, 3)",
        "local f = loadstring('return 1 + 1') return f()",
        "local f = loadstring('y = 1') return {pcall(f)}",
        "return cmsgpack.pack(1, -1, 200, -200, 70000, -70000, 5000000000, -5000000000, 1.5, 0.1, true, false, nil, 'abc', string.rep('x', 40), string.rep('y', 300))",
        "return cmsgpack.pack({1,2,3}, {a=1}, {}, {[1]=1,[3]=3})",
        "return {cmsgpack.unpack(cmsgpack.pack(1, 'a', {1,2,{3}}, {k='v'}, 2.5, -7))}",
        "return cmsgpack.unpack('\\193')",
        "return cmsgpack.unpack('\\205')",
        "return cmsgpack.unpack(1)",
        "return cmsgpack.pack()",
        "return cmsgpack.pack(1/0, -1/0)",
        "return {cmsgpack.unpack(cmsgpack.pack(0.1, 3.25, 1e300))}",
        "local t = {} for i=1,20 do t[i]=i end return cmsgpack.pack(t)",
        "local t = {} local c = t for i=1,20 do c[1] = {} c = c[1] end return cmsgpack.pack(t)",
        "return struct.pack('>I2', 258)",
        "return struct.pack('<i', -2)",
        "return struct.pack('bBhHlL', -1, 255, -2, 65535, -3, 7)",
        "return {struct.unpack('>I2', struct.pack('>I2', 258))}",
        "return {struct.unpack('<i', struct.pack('<i', -2))}",
        "return {struct.unpack('s', 'abc\\0rest')}",
        "return struct.pack('s', 'abc')",
        "return struct.pack('c3', 'abcdef')",
        "return {struct.unpack('c3c2', 'abcdef')}",
        "return struct.size('>I2bh')",
        "return struct.size('!4bi')",
        "return struct.pack('!4bi', 1, 2)",
        "return {struct.unpack('d', struct.pack('d', 1.5))}",
        "return struct.pack('z', 1)",
        "return struct.pack('i', 'x')",
        "return {struct.unpack('i', 'ab')}",
        "return struct.pack('i9', 1)",
        "return struct.pack('>i10', -2)",
        "return {struct.unpack('i10', struct.pack('i10', -5))}",
        "return struct.size('s')",
        "return {struct.unpack('bb', 'ab', 2)}",
        "return struct.pack('Bc0', 3, 'xyz')",
        "return {struct.unpack('Bc0', struct.pack('Bc0', 3, 'xyz'))}",
        "return struct.pack('x>h', 1)",
        "return struct.pack('f', 0.5)",
        "return struct.unpack('z', 'a')",
    ] {
        d.check(&["EVAL", script, "0"]);
    }
}

/// Random nested tables built by a seeded generator: both servers return the same bytes.
#[test]
fn random_tables_convert_identically() {
    let mut d = Differential::start();
    let mut rng = Lcg(0x5eed_1234);
    fn value(rng: &mut Lcg, depth: u32) -> String {
        match rng.below(if depth > 2 { 6 } else { 8 }) {
            0 => format!("{}", rng.below(2000) as i64 - 1000),
            1 => format!("{}.{}", rng.below(100), rng.below(1000)),
            2 => format!("'s{}'", rng.below(50)),
            3 => "true".into(),
            4 => "false".into(),
            5 => "{ok='st'}".into(),
            6 => {
                let n = rng.below(5);
                let items: Vec<String> = (0..n).map(|_| value(rng, depth + 1)).collect();
                format!("{{{}}}", items.join(","))
            }
            _ => format!("{{double={}.5}}", rng.below(10)),
        }
    }
    for _ in 0..150 {
        let script = format!("return {}", value(&mut rng, 0));
        d.check(&["EVAL", &script, "0"]);
    }
}

/// Random command sequences issued from scripts, mixed with direct commands: the keyspace
/// and every reply stay the same on both servers.
#[test]
fn random_command_sequences_through_scripts() {
    let mut d = Differential::start();
    let mut rng = Lcg(0xfeed_beef);
    let calls = [
        "redis.call('SET', KEYS[1], ARGV[1])",
        "redis.call('GET', KEYS[1])",
        "redis.call('INCRBY', KEYS[1], ARGV[1])",
        "redis.call('RPUSH', KEYS[1], ARGV[1])",
        "redis.call('LRANGE', KEYS[1], 0, -1)",
        "redis.pcall('HSET', KEYS[1], 'f', ARGV[1])",
        "redis.pcall('HGETALL', KEYS[1])",
        "redis.call('DEL', KEYS[1])",
        "redis.call('EXISTS', KEYS[1])",
        "redis.pcall('SADD', KEYS[1], ARGV[1])",
    ];
    for _ in 0..200 {
        let key = format!("k{}", rng.below(4));
        let arg = format!("{}", rng.below(20));
        if rng.below(4) == 0 {
            d.check(&["TYPE", &key]);
            continue;
        }
        let n = 1 + rng.below(3);
        let body: Vec<String> = (0..n)
            .map(|i| {
                format!(
                    "local r{i} = {}",
                    calls[rng.below(calls.len() as u64) as usize]
                )
            })
            .collect();
        let script = format!("{}\nreturn {{r0, r1, r2}}", body.join("\n"));
        d.check(&["EVAL", &script, "1", &key, &arg]);
    }
}

/// What one server answers in the busy-script scenario, step by step.
fn busy_scenario(mut a: crate::harness::RawConn, mut b: crate::harness::RawConn) -> Vec<String> {
    use crate::harness::assert_eventually;
    use std::time::Duration;
    let mut seen = Vec::new();
    let raw = |conn: &mut crate::harness::RawConn, args: &[&str]| {
        String::from_utf8_lossy(&conn.request_raw(args)).into_owned()
    };
    seen.push(raw(
        &mut b,
        &["CONFIG", "SET", "busy-reply-threshold", "100"],
    ));
    seen.push(raw(&mut b, &["CONFIG", "GET", "lua-time-limit"]));
    seen.push(raw(&mut b, &["SCRIPT", "KILL"]));
    seen.push(raw(&mut b, &["FUNCTION", "KILL"]));
    // A read-only loop: killable.
    a.send_command(&["EVAL", "local i = 0 while true do i = i + 1 end", "0"]);
    let mut busy = String::new();
    assert_eventually(Duration::from_secs(10), "the node answers BUSY", || {
        busy = raw(&mut b, &["PING"]);
        busy.starts_with("-BUSY")
    });
    seen.push(busy);
    seen.push(raw(&mut b, &["GET", "x"]));
    seen.push(raw(&mut b, &["NOSUCHCOMMAND"]));
    seen.push(raw(&mut b, &["FUNCTION", "KILL"]));
    seen.push(raw(&mut b, &["SCRIPT", "KILL"]));
    seen.push(String::from_utf8_lossy(&a.read_raw_reply()).into_owned());
    seen.push(raw(&mut b, &["SCRIPT", "KILL"]));
    seen.push(raw(&mut a, &["PING"]));
    // A loop that wrote: not killable. (It reads for a while first: on slotgate a script
    // starts on its session's thread and gives way to a blocking thread once it has run past
    // 100 ms without writing; one that writes sooner runs to its end where it is.)
    a.send_command(&[
        "EVAL",
        "local i = 0 while i < 30000000 do i = i + 1 end redis.call('SET', 'x', '1') while true do end",
        "0",
    ]);
    let mut busy = String::new();
    assert_eventually(Duration::from_secs(10), "the node answers BUSY", || {
        busy = raw(&mut b, &["PING"]);
        busy.starts_with("-BUSY")
    });
    seen.push(busy);
    seen.push(raw(&mut b, &["SCRIPT", "KILL"]));
    seen
}

/// The same with a function: `FUNCTION KILL` stops it, `SCRIPT KILL` is refused.
fn busy_function_scenario(
    mut a: crate::harness::RawConn,
    mut b: crate::harness::RawConn,
) -> Vec<String> {
    use crate::harness::assert_eventually;
    use std::time::Duration;
    let mut seen = Vec::new();
    let raw = |conn: &mut crate::harness::RawConn, args: &[&str]| {
        String::from_utf8_lossy(&conn.request_raw(args)).into_owned()
    };
    seen.push(raw(&mut b, &["CONFIG", "SET", "lua-time-limit", "100"]));
    seen.push(raw(
        &mut b,
        &[
            "FUNCTION",
            "LOAD",
            "#!lua name=spin\nredis.register_function{function_name='spin', callback=function() while true do end end, flags={'no-writes'}}",
        ],
    ));
    a.send_command(&["FCALL_RO", "spin", "0"]);
    let mut busy = String::new();
    assert_eventually(Duration::from_secs(10), "the node answers BUSY", || {
        busy = raw(&mut b, &["PING"]);
        busy.starts_with("-BUSY")
    });
    seen.push(busy);
    seen.push(raw(&mut b, &["SCRIPT", "KILL"]));
    seen.push(raw(&mut b, &["FUNCTION", "KILL"]));
    seen.push(String::from_utf8_lossy(&a.read_raw_reply()).into_owned());
    seen.push(raw(&mut a, &["FCALL", "nosuch", "0"]));
    seen
}

#[test]
fn busy_functions_answer_busy_and_can_be_killed() {
    let d = Differential::start();
    let ours = busy_function_scenario(d.ours.raw(), d.ours.raw());
    let theirs = busy_function_scenario(d.redis.raw(), d.redis.raw());
    assert_eq!(ours, theirs);
}

/// A long script: other clients get -BUSY past busy-reply-threshold, SCRIPT KILL stops a
/// script that has not written (its caller gets the kill error), and refuses one that has.
#[test]
fn busy_scripts_answer_busy_and_can_be_killed() {
    let d = Differential::start();
    let ours = busy_scenario(d.ours.raw(), d.ours.raw());
    let theirs = busy_scenario(d.redis.raw(), d.redis.raw());
    assert_eq!(ours, theirs);
}

/// `INFO memory` reports the Lua state and the cached scripts, as Redis's fields.
#[test]
fn info_reports_lua_memory_and_cached_scripts() {
    let mut d = Differential::start();
    let field = |info: &[u8], name: &str| -> Option<u64> {
        String::from_utf8_lossy(info).lines().find_map(|l| {
            l.strip_prefix(&format!("{name}:"))
                .map(|v| v.trim().parse().unwrap())
        })
    };
    d.check(&["SCRIPT", "FLUSH"]);
    d.check(&["EVAL", "return 1", "0"]);
    d.check(&["SCRIPT", "LOAD", "return 2"]);
    let (ours, theirs) = d.both(&["INFO", "memory"]);
    assert_eq!(field(&ours, "number_of_cached_scripts"), Some(2));
    assert_eq!(field(&theirs, "number_of_cached_scripts"), Some(2));
    assert!(field(&ours, "used_memory_lua").unwrap() > 0);
    assert_eq!(field(&ours, "used_memory_scripts"), Some(16));
    d.check(&["SCRIPT", "FLUSH"]);
    let (ours, _) = d.both(&["INFO", "memory"]);
    assert_eq!(field(&ours, "number_of_cached_scripts"), Some(0));
}

/// Scripts queued in a transaction run inside `EXEC` like any command.
#[test]
fn scripts_run_inside_transactions() {
    let mut d = Differential::start();
    d.check_all(&[
        &["MULTI"],
        &["EVAL", "return redis.call('INCR', KEYS[1])", "1", "counter"],
        &["EVALSHA", "ffffffffffffffffffffffffffffffffffffffff", "0"],
        &["FCALL", "nosuch", "0"],
        &["EVAL", "return redis.call('nosuch')", "0"],
        &["EXEC"],
        &["GET", "counter"],
    ]);
    d.check_pipeline(&[
        &["EVAL", "return 1", "0"],
        &["SET", "a", "1"],
        &["EVAL", "return redis.call('GET', 'a')", "0"],
        &["EVAL", "return redis.call('INCR', 'a')", "0"],
        &["GET", "a"],
    ]);
}

/// A script's commands run with its caller's ACL permissions.
#[test]
fn scripts_run_with_the_callers_acl_permissions() {
    let mut d = Differential::start();
    d.check_all(&[
        &[
            "ACL", "SETUSER", "limited", "on", ">pw", "+eval", "+get", "~k*",
        ],
        &["AUTH", "limited", "pw"],
        &["EVAL", "return redis.call('GET', 'k1')", "0"],
        &["EVAL", "return redis.call('SET', 'k1', 'v')", "0"],
        &["EVAL", "return redis.pcall('SET', 'k1', 'v')", "0"],
        &["EVAL", "return redis.call('GET', 'other')", "0"],
        &["EVAL", "return redis.acl_check_cmd('GET', 'k1')", "0"],
        &["EVAL", "return redis.acl_check_cmd('SET', 'k1', 'v')", "0"],
    ]);
}

/// A script that runs long before it writes gives way on slotgate (it starts on its
/// session's thread and moves to a blocking thread past 100 ms): its reply is the one run's,
/// and its writes happen once.
#[test]
fn long_scripts_give_way_without_running_twice() {
    let mut d = Differential::start();
    let spin = "local i = 0 while i < 30000000 do i = i + 1 end";
    d.check(&["EVAL", &format!("{spin} return i"), "0"]);
    d.check(&[
        "EVAL",
        &format!("{spin} return redis.call('INCR', KEYS[1])"),
        "1",
        "counter",
    ]);
    d.check(&["GET", "counter"]);
    // Caught by pcall, the giving way still ends the run before anything is written.
    d.check(&[
        "EVAL",
        &format!("pcall(function() {spin} end) return redis.call('INCR', KEYS[1])"),
        "1",
        "counter",
    ]);
    d.check(&["GET", "counter"]);
}
