//! Geo commands: GEOADD, GEOPOS, GEODIST, GEOHASH, GEOSEARCH[STORE] and the GEORADIUS family,
//! with Redis 7.0's replies and error texts.
//!
//! A geo set is a sorted set whose scores are 52-bit geohashes ([`geohash`]); a search scans
//! the score ranges of the nine cells covering its area
//! ([`geo_shape`](crate::node::keyspace::geo_shape)) in Redis's order,
//! keeps the points inside, and sorts them by distance as Redis does (a stable sort, or its
//! partial quicksort when `COUNT` cuts the list), so that replies match byte for byte.

mod partial_sort;

use super::zsets::{self, AddFlags};
use super::{Ctx, Handler};
use crate::node::error::{CmdError, CmdResult};
use crate::node::keyspace::geo_shape::{cell_scores, distance, Extent, Shape};
use crate::node::keyspace::geohash::{self, LAT_MAX, LAT_MIN, LONG_MAX, LONG_MIN};
use crate::node::keyspace::zset::{ScoreRange, ZSet};
use crate::node::keyspace::Value;
use crate::node::notify::Events;
use crate::node::reply::Reply;
use crate::resp::{parse_i64, Command};

pub(super) const COMMANDS: &[(&str, Handler)] = &[
    ("geoadd", geoadd),
    ("geopos", geopos),
    ("geodist", geodist),
    ("geohash", geohash_cmd),
    ("geosearch", geosearch),
    ("geosearchstore", geosearchstore),
    ("georadius", georadius),
    ("georadiusbymember", georadiusbymember),
    ("georadius_ro", georadius_ro),
    ("georadiusbymember_ro", georadiusbymember_ro),
];

// ---------------------------------------------------------------------------------------------
// Arguments

fn is(arg: &[u8], word: &str) -> bool {
    arg.eq_ignore_ascii_case(word.as_bytes())
}

/// A double as `getDoubleFromObjectOrReply` reads it, failing with `msg` (or the usual text).
fn double_arg(arg: &[u8], msg: Option<&'static str>) -> Result<f64, CmdError> {
    zsets::parse_double(arg).ok_or_else(|| match msg {
        Some(m) => CmdError::text(m),
        None => CmdError::NotFloat,
    })
}

/// A longitude and a latitude argument, checked against the geo limits.
fn lon_lat(lon: &[u8], lat: &[u8]) -> Result<(f64, f64), CmdError> {
    let lon = double_arg(lon, None)?;
    let lat = double_arg(lat, None)?;
    if !(LONG_MIN..=LONG_MAX).contains(&lon) || !(LAT_MIN..=LAT_MAX).contains(&lat) {
        return Err(CmdError::text(format!(
            "ERR invalid longitude,latitude pair {lon:.6},{lat:.6}"
        )));
    }
    Ok((lon, lat))
}

/// Meters per unit (`m`, `km`, `ft`, `mi`, any case).
fn unit(arg: &[u8]) -> Result<f64, CmdError> {
    [("m", 1.0), ("km", 1000.0), ("ft", 0.3048), ("mi", 1609.34)]
        .into_iter()
        .find(|(name, _)| is(arg, name))
        .map(|(_, to_meters)| to_meters)
        .ok_or_else(|| CmdError::text("ERR unsupported unit provided. please use M, KM, FT, MI"))
}

/// `radius unit`: the radius and meters per unit.
fn radius(value: &[u8], unit_arg: &[u8]) -> Result<(f64, f64), CmdError> {
    let r = double_arg(value, Some("ERR need numeric radius"))?;
    if r < 0.0 {
        return Err(CmdError::text("ERR radius cannot be negative"));
    }
    Ok((r, unit(unit_arg)?))
}

/// `width height unit`: the box and meters per unit.
fn box_extent(w: &[u8], h: &[u8], unit_arg: &[u8]) -> Result<(Extent, f64), CmdError> {
    let width = double_arg(w, Some("ERR need numeric width"))?;
    let height = double_arg(h, Some("ERR need numeric height"))?;
    if height < 0.0 || width < 0.0 {
        return Err(CmdError::text("ERR height or width cannot be negative"));
    }
    Ok((Extent::Box { width, height }, unit(unit_arg)?))
}

/// The position of `member` in `z`, or Redis's error for a member that is not there.
fn member_position(z: &ZSet, member: &[u8]) -> Result<(f64, f64), CmdError> {
    z.score(member)
        .map(geohash::decode_score)
        .ok_or_else(|| CmdError::text("ERR could not decode requested zset member"))
}

// ---------------------------------------------------------------------------------------------
// Replies

/// A coordinate as Redis's `addReplyHumanLongDouble` writes it: `%.17Lf` without trailing
/// zeros (a bulk string in RESP2, a double in RESP3).
fn write_coordinate(out: &mut Reply, x: f64) {
    let text = human_double(x);
    if out.is_resp3() {
        out.raw(format!(",{text}\r\n").as_bytes());
    } else {
        out.bulk(text.as_bytes());
    }
}

/// `%.17Lf` of `x` with trailing zeros (and a bare dot) removed, `-0` as `0`.
fn human_double(x: f64) -> String {
    if x.is_infinite() {
        return if x > 0.0 { "inf" } else { "-inf" }.to_string();
    }
    let mut s = format!("{x:.17}");
    if s.contains('.') {
        let trimmed = s.trim_end_matches('0').trim_end_matches('.').len();
        s.truncate(trimmed);
    }
    if s == "-0" {
        s = "0".to_string();
    }
    s
}

/// A distance with four decimals, as Redis's `fixedpoint_d2string(…, 4)`: the value times
/// 10⁴ rounded half to even (`llrint`), then the digits with a dot put in.
fn format_distance(d: f64) -> String {
    if d == 0.0 {
        return "0.0000".to_string();
    }
    let scaled = (d * 10000.0).round_ties_even();
    // llrint of a value out of range (or NaN) gives LLONG_MIN on x86-64.
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    let svalue = if (-LIMIT..LIMIT).contains(&scaled) {
        scaled as i64
    } else {
        i64::MIN
    };
    let digits = svalue.unsigned_abs().to_string();
    let digits = format!("{digits:0>5}");
    let (int, frac) = digits.split_at(digits.len() - 4);
    let sign = if svalue < 0 { "-" } else { "" };
    format!("{sign}{int}.{frac}")
}

// ---------------------------------------------------------------------------------------------
// GEOADD, GEOPOS, GEODIST, GEOHASH

fn geoadd(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let mut flags = AddFlags::default();
    let mut i = 2;
    while i < cmd.argc() {
        let a = cmd.arg(i);
        if is(a, "nx") {
            flags.nx = true;
        } else if is(a, "xx") {
            flags.xx = true;
        } else if is(a, "ch") {
            flags.ch = true;
        } else {
            break;
        }
        i += 1;
    }
    if !(cmd.argc() - i).is_multiple_of(3) || (flags.nx && flags.xx) {
        return Err(CmdError::Syntax);
    }
    let mut pairs = Vec::with_capacity((cmd.argc() - i) / 3);
    for j in (i..cmd.argc()).step_by(3) {
        let (lon, lat) = lon_lat(cmd.arg(j), cmd.arg(j + 1))?;
        // `lon_lat` checked the limits `score_of` checks, so it always has a score.
        let score = geohash::score_of(lon, lat).ok_or(CmdError::Syntax)?;
        pairs.push((score as f64, cmd.arg(j + 2)));
    }
    // Redis hands the rest to ZADD, which finds no score-member pair.
    if pairs.is_empty() {
        return Err(CmdError::Syntax);
    }
    zsets::add(ctx, cmd.arg(1), &flags, &pairs)
}

fn geopos(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let now = ctx.now;
    let (db, out) = ctx.db_out();
    let z = zsets::read(db, cmd.arg(1), now)?;
    let found = z.is_some();
    out.array(cmd.argc() - 2);
    for m in cmd.args().skip(2) {
        match z.and_then(|z| z.score(m)) {
            Some(score) => {
                let (lon, lat) = geohash::decode_score(score);
                out.array(2);
                write_coordinate(out, lon);
                write_coordinate(out, lat);
            }
            None => out.null_array(),
        }
    }
    zsets::count_lookup(ctx, found);
    Ok(())
}

fn geodist(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let to_meters = match cmd.argc() {
        5 => unit(cmd.arg(4))?,
        n if n > 5 => return Err(CmdError::Syntax),
        _ => 1.0,
    };
    let now = ctx.now;
    let z = zsets::read(ctx.db(), cmd.arg(1), now)?;
    let found = z.is_some();
    let scores = z.map(|z| (z.score(cmd.arg(2)), z.score(cmd.arg(3))));
    zsets::count_lookup(ctx, found);
    match scores {
        Some((Some(a), Some(b))) => {
            let (lon1, lat1) = geohash::decode_score(a);
            let (lon2, lat2) = geohash::decode_score(b);
            let d = distance(lon1, lat1, lon2, lat2) / to_meters;
            ctx.out.bulk(format_distance(d).as_bytes());
        }
        _ => ctx.out.null(),
    }
    Ok(())
}

fn geohash_cmd(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    let now = ctx.now;
    let (db, out) = ctx.db_out();
    let z = zsets::read(db, cmd.arg(1), now)?;
    let found = z.is_some();
    out.array(cmd.argc() - 2);
    for m in cmd.args().skip(2) {
        match z.and_then(|z| z.score(m)) {
            Some(score) => out.bulk(&geohash::geohash_text(score)),
            None => out.null(),
        }
    }
    zsets::count_lookup(ctx, found);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Searches

/// Which command a search runs for: where its arguments are and what it accepts.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Variant {
    /// GEORADIUS[_RO] key lon lat radius unit …
    Coords { store: bool },
    /// GEORADIUSBYMEMBER[_RO] key member radius unit …
    Member { store: bool },
    /// GEOSEARCH key FROM… BY… …
    Search,
    /// GEOSEARCHSTORE dst key FROM… BY… …
    SearchStore,
}

impl Variant {
    fn is_search(self) -> bool {
        matches!(self, Variant::Search | Variant::SearchStore)
    }

    fn accepts_store(self) -> bool {
        matches!(
            self,
            Variant::Coords { store: true } | Variant::Member { store: true }
        )
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Sort {
    None,
    Asc,
    Desc,
}

/// A point a search found.
struct Found {
    lon: f64,
    lat: f64,
    dist: f64,
    score: f64,
    member: Vec<u8>,
}

fn geosearch(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    search(ctx, cmd, 1, Variant::Search)
}

fn geosearchstore(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    search(ctx, cmd, 2, Variant::SearchStore)
}

fn georadius(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    search(ctx, cmd, 1, Variant::Coords { store: true })
}

fn georadiusbymember(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    search(ctx, cmd, 1, Variant::Member { store: true })
}

fn georadius_ro(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    search(ctx, cmd, 1, Variant::Coords { store: false })
}

fn georadiusbymember_ro(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    search(ctx, cmd, 1, Variant::Member { store: false })
}

/// A search request once its arguments are read. The centre and extent are missing only when
/// the source key is (Redis skips reading a member's position then).
struct Request<'a> {
    center: Option<(f64, f64)>,
    extent: Option<Extent>,
    /// Meters per unit of the extent, and of the distances answered or stored.
    conversion: f64,
    storekey: Option<&'a [u8]>,
    storedist: bool,
    withdist: bool,
    withhash: bool,
    withcoord: bool,
    sort: Sort,
    any: bool,
    /// 0: no COUNT.
    count: i64,
}

/// Reads a search's arguments with Redis's `georadiusGeneric` checks, in its order: the
/// source's type, the legacy forms' centre and radius, the options one by one, then the
/// combinations.
fn parse_request<'a>(
    ctx: &mut Ctx<'_>,
    cmd: &'a Command,
    src_at: usize,
    variant: Variant,
) -> Result<Request<'a>, CmdError> {
    let now = ctx.now;
    let z = zsets::read(ctx.db(), cmd.arg(src_at), now)?;
    let mut req = Request {
        center: None,
        extent: None,
        conversion: 1.0,
        storekey: None,
        storedist: false,
        withdist: false,
        withhash: false,
        withcoord: false,
        sort: Sort::None,
        any: false,
        count: 0,
    };
    let set_radius = |req: &mut Request<'_>, value: &[u8], unit_arg: &[u8]| {
        let (r, c) = radius(value, unit_arg)?;
        (req.extent, req.conversion) = (Some(Extent::Radius(r)), c);
        Ok::<(), CmdError>(())
    };
    let base = match variant {
        Variant::Coords { .. } => {
            req.center = Some(lon_lat(cmd.arg(2), cmd.arg(3))?);
            set_radius(&mut req, cmd.arg(4), cmd.arg(5))?;
            6
        }
        Variant::Member { .. } => {
            if let Some(z) = z {
                req.center = Some(member_position(z, cmd.arg(2))?);
                set_radius(&mut req, cmd.arg(3), cmd.arg(4))?;
            }
            5
        }
        Variant::Search => 2,
        Variant::SearchStore => {
            req.storekey = Some(cmd.arg(1));
            3
        }
    };

    let (mut frommember, mut fromloc, mut byradius, mut bybox) = (false, false, false, false);
    let argc = cmd.argc();
    let mut i = base;
    while i < argc {
        let a = cmd.arg(i);
        let left = argc - i - 1;
        if is(a, "withdist") {
            req.withdist = true;
        } else if is(a, "withhash") {
            req.withhash = true;
        } else if is(a, "withcoord") {
            req.withcoord = true;
        } else if is(a, "any") {
            req.any = true;
        } else if is(a, "asc") {
            req.sort = Sort::Asc;
        } else if is(a, "desc") {
            req.sort = Sort::Desc;
        } else if is(a, "count") && left >= 1 {
            req.count = parse_i64(cmd.arg(i + 1)).ok_or(CmdError::NotInteger)?;
            if req.count <= 0 {
                return Err(CmdError::text("ERR COUNT must be > 0"));
            }
            i += 1;
        } else if (is(a, "store") || is(a, "storedist")) && left >= 1 && variant.accepts_store() {
            req.storekey = Some(cmd.arg(i + 1));
            req.storedist = is(a, "storedist");
            i += 1;
        } else if is(a, "storedist") && variant == Variant::SearchStore {
            req.storedist = true;
        } else if is(a, "frommember") && left >= 1 && variant.is_search() && !fromloc {
            if let Some(z) = z {
                req.center = Some(member_position(z, cmd.arg(i + 1))?);
            }
            frommember = true;
            i += 1;
        } else if is(a, "fromlonlat") && left >= 2 && variant.is_search() && !frommember {
            req.center = Some(lon_lat(cmd.arg(i + 1), cmd.arg(i + 2))?);
            fromloc = true;
            i += 2;
        } else if is(a, "byradius") && left >= 2 && variant.is_search() && !bybox {
            set_radius(&mut req, cmd.arg(i + 1), cmd.arg(i + 2))?;
            byradius = true;
            i += 2;
        } else if is(a, "bybox") && left >= 3 && variant.is_search() && !byradius {
            let (e, c) = box_extent(cmd.arg(i + 1), cmd.arg(i + 2), cmd.arg(i + 3))?;
            (req.extent, req.conversion) = (Some(e), c);
            bybox = true;
            i += 3;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }

    if req.storekey.is_some() && (req.withdist || req.withhash || req.withcoord) {
        let what = if variant == Variant::SearchStore {
            "GEOSEARCHSTORE"
        } else {
            "STORE option in GEORADIUS"
        };
        return Err(CmdError::text(format!(
            "ERR {what} is not compatible with WITHDIST, WITHHASH and WITHCOORD options"
        )));
    }
    // Redis names the command as the client spelled it.
    let name = String::from_utf8_lossy(cmd.arg(0));
    if variant.is_search() && !(frommember || fromloc) {
        return Err(CmdError::text(format!(
            "ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for {name}"
        )));
    }
    if variant.is_search() && !(byradius || bybox) {
        return Err(CmdError::text(format!(
            "ERR exactly one of BYRADIUS and BYBOX can be specified for {name}"
        )));
    }
    if req.any && req.count == 0 {
        return Err(CmdError::text(
            "ERR the ANY argument requires COUNT argument",
        ));
    }
    Ok(req)
}

/// Runs a search (Redis's `georadiusGeneric`) and answers or stores what it found.
fn search(ctx: &mut Ctx<'_>, cmd: &Command, src_at: usize, variant: Variant) -> CmdResult {
    let mut req = parse_request(ctx, cmd, src_at, variant)?;
    let now = ctx.now;
    let limit = if req.any { req.count as usize } else { 0 };
    let (exists, found) = {
        // parse_request looked the key up (expiring it if due, as one lookup in Redis):
        // this second look is not a lookup of its own (no second `keymiss`).
        let z = match zsets::peek(ctx.db(), cmd.arg(src_at)) {
            Some(v) => Some(v.as_zset()?),
            None => None,
        };
        let found = match (z, req.center, req.extent) {
            (Some(z), Some((longitude, latitude)), Some(extent)) => {
                let shape = Shape {
                    longitude,
                    latitude,
                    conversion: req.conversion,
                    extent,
                };
                Some(points_in(z, &shape, limit))
            }
            _ => None,
        };
        (z.is_some(), found)
    };
    zsets::count_lookup(ctx, exists);
    let Some(mut found) = found else {
        // No source key: an empty answer, or the destination deleted.
        match req.storekey {
            Some(dst) => {
                if ctx.db().remove(dst, now).is_some() {
                    ctx.dirty(1);
                    ctx.notify(Events::GENERIC, "del", dst);
                }
                ctx.out.int(0);
            }
            None => ctx.out.array(0),
        }
        return Ok(());
    };

    // COUNT means the nearest ones, unless ANY says any will do.
    if req.count != 0 && req.sort == Sort::None && !req.any {
        req.sort = Sort::Asc;
    }
    let returned = match usize::try_from(req.count) {
        Ok(count) if count != 0 && count < found.len() => count,
        _ => found.len(),
    };
    sort_found(&mut found, req.sort, returned);
    found.truncate(returned);
    for p in &mut found {
        p.dist /= req.conversion;
    }

    let Some(dst) = req.storekey else {
        write_found(ctx.out, &found, &req);
        return Ok(());
    };
    let n = found.len();
    if n == 0 {
        if ctx.db().remove(dst, now).is_some() {
            ctx.dirty(1);
            ctx.notify(Events::GENERIC, "del", dst);
        }
    } else {
        let limits = zsets::limits(ctx);
        let storedist = req.storedist;
        let pairs = found
            .iter()
            .map(|p| (&p.member[..], if storedist { p.dist } else { p.score }));
        let z = ZSet::from_pairs(pairs, limits);
        ctx.db().set(dst, Value::ZSet(Box::new(z)), now);
        ctx.dirty(n as u64);
        let event = if variant == Variant::SearchStore {
            "geosearchstore"
        } else {
            "georadiusstore"
        };
        ctx.notify(Events::ZSET, event, dst);
    }
    ctx.out.int(n as i64);
    Ok(())
}

/// The points of `z` inside `shape`, cell by cell in Redis's order; with a `limit` (`ANY`)
/// the scan stops once that many are found.
fn points_in(z: &ZSet, shape: &Shape, limit: usize) -> Vec<Found> {
    let cells = shape.cells().cells;
    let mut found = Vec::new();
    let full = |found: &Vec<Found>| limit != 0 && found.len() >= limit;
    // Redis's `last_processed` starts at 0 and so never skips a copy of the centre cell.
    let mut last_processed = 0;
    for (i, &cell) in cells.iter().enumerate() {
        if cell.is_zero() {
            continue;
        }
        if last_processed != 0 && cell == cells[last_processed] {
            continue;
        }
        if full(&found) {
            break;
        }
        let (min, max) = cell_scores(cell);
        let range = ScoreRange {
            min,
            max,
            min_ex: false,
            max_ex: true,
        };
        for (member, score) in z.range_by_score(&range) {
            let (lon, lat) = geohash::decode_score(score);
            if let Some(dist) = shape.contains(lon, lat) {
                found.push(Found {
                    lon,
                    lat,
                    dist,
                    score,
                    member: member.to_vec(),
                });
            }
            if full(&found) {
                break;
            }
        }
        last_processed = i;
    }
    found
}

fn cmp_asc(a: &Found, b: &Found) -> i32 {
    if a.dist > b.dist {
        1
    } else if a.dist == b.dist {
        0
    } else {
        -1
    }
}

fn cmp_desc(a: &Found, b: &Found) -> i32 {
    -cmp_asc(a, b)
}

/// Orders the matches as Redis does: glibc's `qsort` (a stable merge sort) when all are
/// returned, Redis's partial quicksort when `COUNT` returns fewer.
fn sort_found(found: &mut [Found], sort: Sort, returned: usize) {
    let cmp: partial_sort::Compare<Found> = match sort {
        Sort::None => return,
        Sort::Asc => cmp_asc,
        Sort::Desc => cmp_desc,
    };
    if returned == found.len() {
        found.sort_by(|a, b| match sort {
            Sort::Desc => b.dist.total_cmp(&a.dist),
            _ => a.dist.total_cmp(&b.dist),
        });
    } else if returned > 0 {
        partial_sort::partial_sort(found, cmp, 0, returned - 1);
    }
}

/// The matches, each a member alone or `[member, dist?, hash?, [lon, lat]?]`.
fn write_found(out: &mut Reply, found: &[Found], req: &Request<'_>) {
    let (withdist, withhash, withcoord) = (req.withdist, req.withhash, req.withcoord);
    let options = usize::from(withdist) + usize::from(withhash) + usize::from(withcoord);
    out.array(found.len());
    for p in found {
        if options > 0 {
            out.array(options + 1);
        }
        out.bulk(&p.member);
        if withdist {
            out.bulk(format_distance(p.dist).as_bytes());
        }
        if withhash {
            out.int(p.score as i64);
        }
        if withcoord {
            out.array(2);
            write_coordinate(out, p.lon);
            write_coordinate(out, p.lat);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances_have_four_decimals_rounded_half_even() {
        assert_eq!(format_distance(0.0), "0.0000");
        assert_eq!(format_distance(0.0001), "0.0001");
        assert_eq!(format_distance(6.064_295_159_839_17e-5), "0.0001");
        assert_eq!(format_distance(0.00001), "0.0000");
        assert_eq!(format_distance(166274.15156960033), "166274.1516");
        assert_eq!(format_distance(1.5), "1.5000");
        assert_eq!(format_distance(0.00005), "0.0000");
        // 312.5 and 937.5 once scaled: exact ties, rounded to the even neighbour.
        assert_eq!(format_distance(0.03125), "0.0312");
        assert_eq!(format_distance(0.09375), "0.0938");
        assert_eq!(format_distance(-2.5), "-2.5000");
    }

    #[test]
    fn coordinates_print_like_redis() {
        assert_eq!(human_double(13.361389338970184), "13.36138933897018433");
        assert_eq!(human_double(15.0), "15");
        assert_eq!(human_double(-0.0), "0");
        assert_eq!(human_double(0.5), "0.5");
    }

    #[test]
    fn units_and_pairs() {
        assert_eq!(unit(b"KM"), Ok(1000.0));
        assert!(unit(b"yd").is_err());
        assert!(lon_lat(b"180", b"85.05112878").is_ok());
        assert_eq!(
            lon_lat(b"181", b"1").unwrap_err().to_string(),
            "ERR invalid longitude,latitude pair 181.000000,1.000000"
        );
        assert_eq!(lon_lat(b"x", b"1"), Err(CmdError::NotFloat));
    }
}
