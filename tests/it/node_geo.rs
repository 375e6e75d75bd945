//! `slotgate node`: geo commands, compared byte for byte with redis-server.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::harness::Differential;

/// Checks each command, given as one line of space-separated arguments.
#[track_caller]
fn check_lines(d: &mut Differential, lines: &[&str]) {
    for line in lines {
        let args: Vec<&str> = line.split_whitespace().collect();
        d.check(&args);
    }
}

/// Switches both connections to RESP3.
fn hello3(d: &mut Differential) {
    d.both(&["HELLO", "3"]);
}

const SICILY: &str = "GEOADD Sicily 13.361389 38.115556 Palermo 15.087269 37.502669 Catania \
                      12.758489 38.788135 edge1 17.241510 38.788135 edge2";

#[test]
fn geoadd_pos_dist_hash_match_redis() {
    let mut d = Differential::start();
    check_lines(&mut d, &[SICILY]);
    check_lines(
        &mut d,
        &[
            "ZRANGE Sicily 0 -1 WITHSCORES",
            "TYPE Sicily",
            "OBJECT ENCODING Sicily",
            "GEOPOS Sicily Palermo Catania nope edge1",
            "GEOPOS missing a b",
            "GEODIST Sicily Palermo Catania",
            "GEODIST Sicily Palermo Catania m",
            "GEODIST Sicily Palermo Catania KM",
            "GEODIST Sicily Palermo Catania ft",
            "GEODIST Sicily Palermo Catania mi",
            "GEODIST Sicily Palermo Palermo",
            "GEODIST Sicily Palermo nope",
            "GEODIST missing a b",
            "GEOHASH Sicily Palermo Catania nope edge2",
            "GEOHASH missing a",
            // NX, XX and CH go to ZADD.
            "GEOADD Sicily 13.361389 38.115556 Palermo",
            "GEOADD Sicily CH 13.4 38.1 Palermo 1 1 new",
            "GEOADD Sicily NX 13.5 38.1 Palermo 2 2 new2",
            "GEOADD Sicily XX CH 13.6 38.1 Palermo 3 3 new3",
            "GEOADD Sicily XX 3 3 nope",
            "GEOADD missing XX 3 3 nope",
            "EXISTS missing",
            "GEOADD Sicily ch nx 4 4 new4",
            "GEOPOS Sicily Palermo new new2 new3 new4",
            // The limits themselves are accepted.
            "GEOADD limits -180 -85.05112878 sw 180 85.05112878 ne 0 0 zero -0 -0 negzero",
            "ZRANGE limits 0 -1 WITHSCORES",
            "GEOPOS limits sw ne zero negzero",
            "GEOHASH limits sw ne zero",
            "GEODIST limits sw ne km",
        ],
    );
    // Scores that were never geohashes still decode (clamped), as in Redis.
    check_lines(
        &mut d,
        &[
            "ZADD weird -5 a 1e300 b inf c -inf d 0 e 4503599627370496 f 4503599627370495 g 0.5 h",
            "GEOPOS weird a b c d e f g h",
            "GEOHASH weird a b c d e f g h",
            "GEODIST weird a b",
            "GEODIST weird e g km",
            "GEOSEARCH weird FROMMEMBER e BYRADIUS 100 km",
            "GEORADIUSBYMEMBER weird g 100 km WITHCOORD",
        ],
    );
}

#[test]
fn searches_match_redis() {
    let mut d = Differential::start();
    check_lines(&mut d, &[SICILY]);
    check_lines(
        &mut d,
        &[
            "GEORADIUS Sicily 15 37 200 km",
            "GEORADIUS Sicily 15 37 200 km WITHDIST WITHCOORD WITHHASH",
            "GEORADIUS Sicily 15 37 200 km WITHHASH ASC",
            "GEORADIUS Sicily 15 37 200 km WITHDIST DESC",
            "GEORADIUS Sicily 15 37 200 km COUNT 1",
            "GEORADIUS Sicily 15 37 200 km COUNT 1 DESC",
            "GEORADIUS Sicily 15 37 200 km COUNT 1 ANY",
            "GEORADIUS Sicily 15 37 200 km COUNT 5 ANY ASC",
            "GEORADIUS Sicily 15 37 1 m",
            "GEORADIUS Sicily 15 37 0 m",
            "GEORADIUS Sicily 15 37 100000 km WITHDIST",
            "GEORADIUS Sicily 15 37 300 MI WITHDIST",
            "GEORADIUS Sicily 15 37 300000 ft WITHDIST",
            "GEORADIUS_RO Sicily 15 37 200 km WITHDIST",
            "GEORADIUSBYMEMBER Sicily Palermo 200 km WITHDIST",
            "GEORADIUSBYMEMBER_RO Sicily Palermo 100 km COUNT 2",
            "GEOSEARCH Sicily FROMLONLAT 15 37 BYRADIUS 200 km ASC",
            "GEOSEARCH Sicily FROMMEMBER Palermo BYRADIUS 200 km WITHCOORD",
            "GEOSEARCH Sicily FROMLONLAT 15 37 BYBOX 400 400 km ASC WITHCOORD WITHDIST WITHHASH",
            "GEOSEARCH Sicily FROMLONLAT 15 37 BYBOX 200 200 km DESC",
            "GEOSEARCH Sicily FROMLONLAT 15 37 BYBOX 0 0 km",
            "GEOSEARCH Sicily FROMMEMBER Catania BYBOX 500 50 km COUNT 3",
            "GEOSEARCH Sicily FROMMEMBER a FROMMEMBER Catania BYRADIUS 1 m",
            "GEOSEARCH missing FROMLONLAT 15 37 BYRADIUS 200 km",
            "GEOSEARCH missing FROMMEMBER x BYRADIUS 200 km",
            "GEORADIUS missing 15 37 200 km",
            "GEORADIUSBYMEMBER missing x 200 km",
            // Storing: positions, distances, empty results delete the destination.
            "GEORADIUS Sicily 15 37 200 km STORE st",
            "ZRANGE st 0 -1 WITHSCORES",
            "GEORADIUS Sicily 15 37 200 km STOREDIST st COUNT 1",
            "ZRANGE st 0 -1 WITHSCORES",
            "GEORADIUSBYMEMBER Sicily Palermo 300 km STOREDIST st2 DESC",
            "ZRANGE st2 0 -1 WITHSCORES",
            "OBJECT ENCODING st2",
            "GEOSEARCHSTORE st3 Sicily FROMLONLAT 15 37 BYBOX 400 400 km STOREDIST",
            "ZRANGE st3 0 -1 WITHSCORES",
            "GEOSEARCHSTORE st3 Sicily FROMLONLAT 15 37 BYRADIUS 1 m",
            "EXISTS st3",
            "SET st4 string",
            "EXPIRE st4 1000",
            "GEORADIUS Sicily 15 37 200 km STORE st4",
            "TYPE st4",
            "TTL st4",
            "SET st5 string",
            "GEORADIUS missing 15 37 200 km STORE st5",
            "EXISTS st5",
            "SET st6 string",
            "GEOSEARCHSTORE st6 missing FROMMEMBER x BYRADIUS 1 km",
            "EXISTS st6",
            "GEOSEARCHSTORE st6 missing FROMMEMBER x BYRADIUS 1 km",
        ],
    );
    hello3(&mut d);
    check_lines(
        &mut d,
        &[
            "GEOPOS Sicily Palermo nope",
            "GEODIST Sicily Palermo Catania",
            "GEODIST Sicily Palermo nope",
            "GEOHASH Sicily Palermo nope",
            "GEOSEARCH Sicily FROMLONLAT 15 37 BYRADIUS 200 km WITHCOORD WITHDIST WITHHASH",
            "GEOSEARCH missing FROMLONLAT 15 37 BYRADIUS 200 km",
        ],
    );
}

#[test]
fn every_error_matches_redis() {
    let mut d = Differential::start();
    check_lines(&mut d, &[SICILY]);
    check_lines(
        &mut d,
        &[
            // GEOADD
            "GEOADD g 1 2",
            "GEOADD g 1 2 a 3",
            "GEOADD g NX XX 1 2 a",
            "GEOADD g GT 1 2 a",
            "GEOADD g NX CH XX",
            "GEOADD g NX CH CH",
            "GEOADD g x 2 a",
            "GEOADD g 1 y a",
            "GEOADD g nan 2 a",
            "GEOADD g 181 2 a",
            "GEOADD g -180.5 2 a",
            "GEOADD g 10 85.06 a",
            "GEOADD g 10 -86 a",
            "GEOADD g inf 0 a",
            "GEOADD g 1e300 0 a",
            "GEOADD g 1 2 ok 500 2 bad",
            "EXISTS g",
            "GEOADD g",
            "GEOADD g 1",
            // GEODIST
            "GEODIST Sicily Palermo Catania yd",
            "GEODIST missing Palermo Catania yd",
            "GEODIST Sicily Palermo Catania km x",
            "GEODIST Sicily Palermo",
            // Legacy searches.
            "GEORADIUS Sicily x 37 200 km",
            "GEORADIUS Sicily 15 y 200 km",
            "GEORADIUS Sicily 190 37 200 km",
            "GEORADIUS missing 190 37 200 km",
            "GEORADIUS Sicily 15 37 x km",
            "GEORADIUS Sicily 15 37 -1 km",
            "GEORADIUS Sicily 15 37 1 yd",
            "GEORADIUS Sicily 15 37 1 km COUNT",
            "GEORADIUS Sicily 15 37 1 km COUNT 0",
            "GEORADIUS Sicily 15 37 1 km COUNT -3",
            "GEORADIUS Sicily 15 37 1 km COUNT x",
            "GEORADIUS Sicily 15 37 1 km ANY",
            "GEORADIUS Sicily 15 37 1 km FOO",
            "GEORADIUS Sicily 15 37 1 km STORE",
            "GEORADIUS Sicily 15 37 1 km STORE k WITHDIST",
            "GEORADIUS Sicily 15 37 1 km WITHHASH STOREDIST k",
            "GEORADIUS Sicily 15 37 1 km FROMLONLAT 1 2",
            "GEORADIUS Sicily 15 37 1 km BYRADIUS 1 km",
            "GEORADIUS_RO Sicily 15 37 1 km STORE k",
            "GEORADIUS_RO Sicily 15 37 1 km STOREDIST k",
            "GEORADIUSBYMEMBER Sicily nope 1 km",
            "GEORADIUSBYMEMBER Sicily Palermo x km",
            "GEORADIUSBYMEMBER Sicily Palermo 1 yd",
            "GEORADIUSBYMEMBER missing nope x yd",
            "GEORADIUSBYMEMBER missing nope 1 km ANY",
            "GEORADIUSBYMEMBER missing nope 1 km STORE k WITHCOORD",
            "GEORADIUSBYMEMBER_RO Sicily Palermo 1 km STORE k",
            // GEOSEARCH and GEOSEARCHSTORE.
            "GEOSEARCH Sicily BYRADIUS 1 km ASC",
            "geosearch Sicily BYRADIUS 1 km ASC",
            "GeoSearch Sicily FROMLONLAT 1 2 ASC",
            "GEOSEARCHSTORE dst Sicily FROMLONLAT 1 2 ASC",
            "GEOSEARCH Sicily FROMMEMBER nope BYRADIUS 1 km",
            "GEOSEARCH Sicily FROMLONLAT 1 2 FROMMEMBER Palermo BYRADIUS 1 km",
            "GEOSEARCH Sicily FROMMEMBER Palermo FROMLONLAT 1 2 BYRADIUS 1 km",
            "GEOSEARCH Sicily FROMLONLAT 1 2 BYRADIUS 1 km BYBOX 1 1 km",
            "GEOSEARCH Sicily FROMLONLAT 1 2 BYBOX 1 1 km BYRADIUS 1 km",
            "GEOSEARCH Sicily FROMLONLAT 1 2 BYRADIUS 1",
            "GEOSEARCH Sicily FROMLONLAT 1 BYRADIUS 1 km",
            "GEOSEARCH Sicily FROMLONLAT 200 2 BYRADIUS 1 km",
            "GEOSEARCH Sicily FROMLONLAT 1 2 BYBOX x 1 km",
            "GEOSEARCH Sicily FROMLONLAT 1 2 BYBOX 1 x km",
            "GEOSEARCH Sicily FROMLONLAT 1 2 BYBOX -1 1 km",
            "GEOSEARCH Sicily FROMLONLAT 1 2 BYBOX 1 -1 km",
            "GEOSEARCH Sicily FROMLONLAT 1 2 BYBOX 1 1 yd",
            "GEOSEARCH Sicily FROMLONLAT 1 2 BYRADIUS -1 km",
            "GEOSEARCH Sicily FROMLONLAT 1 2 BYRADIUS 1 km STORE k",
            "GEOSEARCH Sicily FROMLONLAT 1 2 BYRADIUS 1 km STOREDIST",
            "GEOSEARCH Sicily FROMLONLAT 1 2 BYRADIUS 1 km ANY",
            "GEOSEARCH Sicily FROMLONLAT 1 2 BYRADIUS 1 km COUNT 0",
            "GEOSEARCHSTORE dst Sicily FROMLONLAT 1 2 BYRADIUS 1 km WITHDIST",
            "GEOSEARCHSTORE dst Sicily FROMLONLAT 1 2 BYRADIUS 1 km STORE k",
            "GEOSEARCH missing FROMMEMBER x BYRADIUS -1 km",
            "GEOSEARCH missing FROMMEMBER x",
            // Wrong types come first.
            "SET s v",
            "GEOADD s 1 2 a",
            "GEOADD s 500 2 a",
            "GEOPOS s a",
            "GEODIST s a b",
            "GEODIST s a b yd",
            "GEOHASH s a",
            "GEORADIUS s 500 37 1 km",
            "GEORADIUSBYMEMBER s a 1 km",
            "GEOSEARCH s FROMLONLAT 500 2 BYRADIUS 1 km",
            "GEOSEARCHSTORE dst s FROMLONLAT 1 2 BYRADIUS 1 km",
        ],
    );
}

/// A random position: near `center` (within about `spread` degrees) or anywhere.
fn random_point(rng: &mut StdRng, center: (f64, f64), spread: f64) -> (f64, f64) {
    if rng.gen_bool(0.2) {
        return (rng.gen_range(-180.0..=180.0), rng.gen_range(-85.05..=85.05));
    }
    let lon = (center.0 + rng.gen_range(-spread..=spread)).clamp(-180.0, 180.0);
    let lat = (center.1 + rng.gen_range(-spread..=spread)).clamp(-85.05, 85.05);
    (lon, lat)
}

fn coord(x: f64) -> String {
    format!("{x:.6}")
}

fn random_unit(rng: &mut StdRng) -> (&'static str, f64) {
    [("m", 1.0), ("km", 1000.0), ("ft", 0.3048), ("mi", 1609.34)][rng.gen_range(0..4)]
}

/// A random search command's arguments (after the key), with or without a store option.
fn random_search(
    rng: &mut StdRng,
    center: (f64, f64),
    spread: f64,
    members: &[String],
) -> Vec<String> {
    let (unit, to_m) = random_unit(rng);
    // Sizes from meters to thousands of kilometers, in the chosen unit.
    let meters = 10f64.powf(rng.gen_range(0.0..7.3));
    let size = format!("{:.3}", meters / to_m);
    let (lon, lat) = random_point(rng, center, spread);
    let from_member = !members.is_empty() && rng.gen_bool(0.3);
    let mut args: Vec<String> = Vec::new();
    let search = rng.gen_bool(0.6);
    if search {
        if from_member {
            args.extend([
                "FROMMEMBER".into(),
                members[rng.gen_range(0..members.len())].clone(),
            ]);
        } else {
            args.extend(["FROMLONLAT".into(), coord(lon), coord(lat)]);
        }
        if rng.gen_bool(0.5) {
            args.extend(["BYRADIUS".into(), size, unit.into()]);
        } else {
            let other = format!("{:.3}", meters * rng.gen_range(0.1..3.0) / to_m);
            args.extend(["BYBOX".into(), size, other, unit.into()]);
        }
    } else if from_member {
        args.extend([
            members[rng.gen_range(0..members.len())].clone(),
            size,
            unit.into(),
        ]);
    } else {
        args.extend([coord(lon), coord(lat), size, unit.into()]);
    }
    match rng.gen_range(0..4) {
        0 => args.push("ASC".into()),
        1 => args.push("DESC".into()),
        _ => {}
    }
    if rng.gen_bool(0.5) {
        args.extend(["COUNT".into(), rng.gen_range(1..12).to_string()]);
        if rng.gen_bool(0.3) {
            args.push("ANY".into());
        }
    }
    let mut prefix = vec![if search {
        "GEOSEARCH".to_string()
    } else if from_member {
        "GEORADIUSBYMEMBER".to_string()
    } else {
        "GEORADIUS".to_string()
    }];
    let store = rng.gen_bool(0.3);
    if store {
        if search {
            prefix[0] = "GEOSEARCHSTORE".into();
            prefix.push("dst".into());
            if rng.gen_bool(0.5) {
                args.push("STOREDIST".into());
            }
        } else {
            let opt = if rng.gen_bool(0.5) {
                "STORE"
            } else {
                "STOREDIST"
            };
            args.extend([opt.into(), "dst".into()]);
        }
    } else {
        for opt in ["WITHDIST", "WITHCOORD", "WITHHASH"] {
            if rng.gen_bool(0.4) {
                args.push(opt.into());
            }
        }
    }
    prefix.push("pts".into());
    prefix.extend(args);
    prefix
}

#[test]
fn random_geo_sequences_match_redis() {
    let mut d = Differential::start();
    let mut rng = StdRng::seed_from_u64(0x6e0_5ea4c4);
    for round in 0..24 {
        d.check(&["DEL", "pts", "dst"]);
        // Some rounds near a pole or the antimeridian, some spread wide, sets small (listpack)
        // and large (skiplist).
        let center = match round % 4 {
            0 => (rng.gen_range(-180.0..180.0), rng.gen_range(-60.0..60.0)),
            1 => (rng.gen_range(170.0..180.0), rng.gen_range(-20.0..20.0)),
            2 => (rng.gen_range(-180.0..180.0), rng.gen_range(70.0..85.0)),
            _ => (rng.gen_range(-180.0..180.0), rng.gen_range(-85.0..-60.0)),
        };
        let spread = [0.01, 0.5, 5.0, 40.0][rng.gen_range(0..4)];
        let n = if round % 3 == 0 { 300 } else { 40 };
        let mut members = Vec::new();
        let mut add = vec!["GEOADD".to_string(), "pts".to_string()];
        let mut last = (0.0, 0.0);
        for i in 0..n {
            // Repeated positions make distance ties, where sort order shows.
            let (lon, lat) = if i > 0 && rng.gen_bool(0.15) {
                last
            } else {
                random_point(&mut rng, center, spread)
            };
            last = (lon, lat);
            let m = format!("m{i}");
            add.extend([coord(lon), coord(lat), m.clone()]);
            members.push(m);
        }
        d.check(&add);
        d.check(&["ZRANGE", "pts", "0", "-1", "WITHSCORES"]);
        d.check(&["OBJECT", "ENCODING", "pts"]);
        for _ in 0..30 {
            let cmd = random_search(&mut rng, center, spread, &members);
            d.check(&cmd);
            if cmd[0].ends_with("STORE") || cmd.iter().any(|a| a.starts_with("STORE")) {
                d.check(&["ZRANGE", "dst", "0", "-1", "WITHSCORES"]);
                d.check(&["OBJECT", "ENCODING", "dst"]);
            }
        }
        for _ in 0..5 {
            let a = &members[rng.gen_range(0..members.len())];
            let b = &members[rng.gen_range(0..members.len())];
            let (unit, _) = random_unit(&mut rng);
            d.check(&["GEODIST", "pts", a, b, unit]);
            d.check(&["GEOPOS", "pts", a, b]);
            d.check(&["GEOHASH", "pts", a, b]);
        }
    }
}

#[test]
fn coordinates_print_like_redis_everywhere() {
    let mut d = Differential::start();
    let mut rng = StdRng::seed_from_u64(0xc00_4d5);
    let mut add = vec!["GEOADD".to_string(), "world".to_string()];
    let mut pos = vec!["GEOPOS".to_string(), "world".to_string()];
    let mut hash = vec!["GEOHASH".to_string(), "world".to_string()];
    for i in 0..2000 {
        // Full-precision inputs as well as short decimals.
        let (lon, lat) = (rng.gen_range(-180.0..=180.0), rng.gen_range(-85.05..=85.05));
        let (lon, lat) = if i % 2 == 0 {
            (format!("{lon}"), format!("{lat}"))
        } else {
            (format!("{lon:.3}"), format!("{lat:.2}"))
        };
        add.extend([lon, lat, format!("p{i}")]);
        pos.push(format!("p{i}"));
        hash.push(format!("p{i}"));
    }
    d.check(&add);
    d.check(&pos);
    d.check(&hash);
    d.check(&[
        "GEOSEARCH",
        "world",
        "FROMLONLAT",
        "0",
        "0",
        "BYRADIUS",
        "3000",
        "km",
        "WITHCOORD",
        "WITHDIST",
        "WITHHASH",
        "ASC",
    ]);
    hello3(&mut d);
    d.check(&pos);
}

#[test]
fn stored_results_take_the_configured_encoding() {
    let mut d = Differential::start();
    check_lines(&mut d, &[SICILY]);
    d.check(&["CONFIG", "SET", "zset-max-listpack-entries", "2"]);
    check_lines(
        &mut d,
        &[
            "GEORADIUS Sicily 15 37 200 km STORE st",
            "OBJECT ENCODING st",
            "GEORADIUS Sicily 15 37 200 km STORE st COUNT 2",
            "OBJECT ENCODING st",
            "GEOADD big 1 1 a 1 1.1 b 1 1.2 c",
            "OBJECT ENCODING big",
        ],
    );
    d.check(&["CONFIG", "SET", "zset-max-listpack-value", "3"]);
    check_lines(
        &mut d,
        &[
            "GEOSEARCHSTORE st2 big FROMLONLAT 1 1 BYRADIUS 1 km",
            "OBJECT ENCODING st2",
            "GEOADD long 1 1 longname",
            "GEOSEARCHSTORE st3 long FROMLONLAT 1 1 BYRADIUS 1 km",
            "OBJECT ENCODING st3",
            "OBJECT ENCODING long",
        ],
    );
}
