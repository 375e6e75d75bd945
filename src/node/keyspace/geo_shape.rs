//! A geo search's area (a circle or an axis-aligned box around a centre), the distances it
//! is measured with, and the nine geohash cells that cover it.
//!
//! This is Redis 7.0's `geohash_helper.c` logic: the step estimate from the radius, the one
//! step coarser when a neighbour cell falls short of the bounding box, the neighbours dropped
//! when the centre cell already covers that side, and the haversine distance on a sphere of
//! radius 6372797.560856 m. A search visits the cells in Redis's order, so that the points it
//! finds come out in Redis's order too.

use super::geohash::{self, HashBits, LAT_RANGE, LONG_RANGE};

/// Earth's quadratic mean radius (WGS-84), as Redis uses it.
pub const EARTH_RADIUS_IN_METERS: f64 = 6372797.560856;
const MERCATOR_MAX: f64 = 20037726.37;
const D_R: f64 = std::f64::consts::PI / 180.0;

fn deg_rad(ang: f64) -> f64 {
    ang * D_R
}

fn rad_deg(ang: f64) -> f64 {
    ang / D_R
}

/// The distance along a meridian between two latitudes.
pub fn lat_distance(lat1: f64, lat2: f64) -> f64 {
    EARTH_RADIUS_IN_METERS * (deg_rad(lat2) - deg_rad(lat1)).abs()
}

/// The great-circle distance in meters (haversine), Redis's `geohashGetDistance`.
pub fn distance(lon1: f64, lat1: f64, lon2: f64, lat2: f64) -> f64 {
    let lon1r = deg_rad(lon1);
    let lon2r = deg_rad(lon2);
    let v = ((lon2r - lon1r) / 2.0).sin();
    if v == 0.0 {
        return lat_distance(lat1, lat2);
    }
    let lat1r = deg_rad(lat1);
    let lat2r = deg_rad(lat2);
    let u = ((lat2r - lat1r) / 2.0).sin();
    let a = u * u + lat1r.cos() * lat2r.cos() * v * v;
    2.0 * EARTH_RADIUS_IN_METERS * a.sqrt().asin()
}

/// The cell size (bits per axis) whose cells are about as large as the search radius.
pub fn estimate_steps(range_meters: f64, lat: f64) -> u8 {
    if range_meters == 0.0 {
        return 26;
    }
    let mut range = range_meters;
    let mut step: i32 = 1;
    // Bounded: doubling a positive radius passes MERCATOR_MAX within ~1100 rounds.
    while range < MERCATOR_MAX {
        range *= 2.0;
        step += 1;
    }
    step -= 2;
    if !(-66.0..=66.0).contains(&lat) {
        step -= 1;
        if !(-80.0..=80.0).contains(&lat) {
            step -= 1;
        }
    }
    step.clamp(1, 26) as u8
}

/// What is searched: a circle of `radius` or a box `width` × `height`, in the request's unit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Extent {
    Radius(f64),
    Box { width: f64, height: f64 },
}

/// A search area around a centre; sizes are in the request's unit, `conversion` meters each.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Shape {
    pub longitude: f64,
    pub latitude: f64,
    pub conversion: f64,
    pub extent: Extent,
}

/// The cells to scan: the centre's cell first, then its neighbours in Redis's order
/// (N, S, E, W, NE, NW, SE, SW), the useless ones zeroed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SearchCells {
    pub cells: [HashBits; 9],
}

impl Shape {
    /// The bounding box, `[min_lon, min_lat, max_lon, max_lat]` (Redis's `geohashBoundingBox`).
    pub fn bounds(&self) -> [f64; 4] {
        let (height, width) = match self.extent {
            Extent::Radius(r) => (self.conversion * r, self.conversion * r),
            Extent::Box { width, height } => (
                self.conversion * (height / 2.0),
                self.conversion * (width / 2.0),
            ),
        };
        let lat = self.latitude;
        let lon = self.longitude;
        let lat_delta = rad_deg(height / EARTH_RADIUS_IN_METERS);
        let long_delta_top =
            rad_deg(width / EARTH_RADIUS_IN_METERS / deg_rad(lat + lat_delta).cos());
        let long_delta_bottom =
            rad_deg(width / EARTH_RADIUS_IN_METERS / deg_rad(lat - lat_delta).cos());
        let delta = if lat < 0.0 {
            long_delta_bottom
        } else {
            long_delta_top
        };
        [lon - delta, lat - lat_delta, lon + delta, lat + lat_delta]
    }

    /// The cells that cover the area (Redis's `geohashCalculateAreasByShapeWGS84`).
    pub fn cells(&self) -> SearchCells {
        let [min_lon, min_lat, max_lon, max_lat] = self.bounds();
        let radius_meters = match self.extent {
            Extent::Radius(r) => r,
            Extent::Box { width, height } => {
                ((width / 2.0) * (width / 2.0) + (height / 2.0) * (height / 2.0)).sqrt()
            }
        } * self.conversion;
        let mut steps = estimate_steps(radius_meters, self.latitude);
        let at = |steps: u8| {
            // The centre was checked against the limits, so it always encodes.
            let hash = geohash::encode(LONG_RANGE, LAT_RANGE, self.longitude, self.latitude, steps)
                .unwrap_or_default();
            (hash, geohash::neighbors(hash))
        };
        let (mut hash, mut n) = at(steps);
        let decode = |h: HashBits| geohash::decode(LONG_RANGE, LAT_RANGE, h);
        let short =
            |h: HashBits, f: &dyn Fn(&geohash::Area) -> bool| decode(h).is_some_and(|a| f(&a));
        let decrease = short(n.north, &|a| a.latitude.max < max_lat)
            || short(n.south, &|a| a.latitude.min > min_lat)
            || short(n.east, &|a| a.longitude.max < max_lon)
            || short(n.west, &|a| a.longitude.min > min_lon);
        if steps > 1 && decrease {
            steps -= 1;
            (hash, n) = at(steps);
        }
        if steps >= 2 {
            if let Some(area) = decode(hash) {
                let zero = HashBits::ZERO;
                if area.latitude.min < min_lat {
                    (n.south, n.south_west, n.south_east) = (zero, zero, zero);
                }
                if area.latitude.max > max_lat {
                    (n.north, n.north_east, n.north_west) = (zero, zero, zero);
                }
                if area.longitude.min < min_lon {
                    (n.west, n.south_west, n.north_west) = (zero, zero, zero);
                }
                if area.longitude.max > max_lon {
                    (n.east, n.south_east, n.north_east) = (zero, zero, zero);
                }
            }
        }
        SearchCells {
            cells: [
                hash,
                n.north,
                n.south,
                n.east,
                n.west,
                n.north_east,
                n.north_west,
                n.south_east,
                n.south_west,
            ],
        }
    }

    /// The distance in meters from the centre to (`lon`, `lat`) if that point is inside the
    /// area (Redis's `geoWithinShape`).
    pub fn contains(&self, lon: f64, lat: f64) -> Option<f64> {
        match self.extent {
            Extent::Radius(r) => {
                let d = distance(self.longitude, self.latitude, lon, lat);
                // Redis rejects only `d > radius`: a NaN distance is kept, as there.
                if d > r * self.conversion {
                    None
                } else {
                    Some(d)
                }
            }
            Extent::Box { width, height } => {
                let (width_m, height_m) = (width * self.conversion, height * self.conversion);
                if lat_distance(lat, self.latitude) > height_m / 2.0 {
                    return None;
                }
                if distance(lon, lat, self.longitude, lat) > width_m / 2.0 {
                    return None;
                }
                Some(distance(self.longitude, self.latitude, lon, lat))
            }
        }
    }
}

/// The score range `[min, max)` of every 52-bit score inside cell `hash`.
pub fn cell_scores(hash: HashBits) -> (f64, f64) {
    let min = hash.align52();
    let max = HashBits {
        bits: hash.bits.wrapping_add(1),
        step: hash.step,
    }
    .align52();
    (min as f64, max as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances_match_redis() {
        // GEODIST Sicily Palermo Catania → 166274.1516 (decoded positions).
        let (lon1, lat1) = geohash::decode_score(3479099956230698.0);
        let (lon2, lat2) = geohash::decode_score(3479447370796909.0);
        let d = distance(lon1, lat1, lon2, lat2);
        assert!((d - 166274.1516).abs() < 1e-3, "{d}");
        assert_eq!(distance(10.0, 20.0, 10.0, 20.0), 0.0);
        assert_eq!(distance(10.0, 0.0, 10.0, 1.0), lat_distance(0.0, 1.0));
    }

    #[test]
    fn steps_shrink_with_radius_and_towards_the_poles() {
        assert_eq!(estimate_steps(0.0, 0.0), 26);
        assert!(estimate_steps(100.0, 0.0) > estimate_steps(100_000.0, 0.0));
        assert_eq!(estimate_steps(100.0, 70.0) + 1, estimate_steps(100.0, 0.0));
        assert_eq!(estimate_steps(100.0, -85.0) + 2, estimate_steps(100.0, 0.0));
        assert_eq!(estimate_steps(1e9, 0.0), 1);
    }

    #[test]
    fn the_centre_cell_holds_the_centre() {
        let shape = Shape {
            longitude: 15.0,
            latitude: 37.0,
            conversion: 1000.0,
            extent: Extent::Radius(200.0),
        };
        let cells = shape.cells();
        let score = geohash::score_of(15.0, 37.0).unwrap() as f64;
        let (min, max) = cell_scores(cells.cells[0]);
        assert!(min <= score && score < max);
        assert!(shape.contains(15.0, 37.0).is_some());
        assert!(shape.contains(15.0, 40.0).is_none());
        let bx = Shape {
            extent: Extent::Box {
                width: 400.0,
                height: 100.0,
            },
            ..shape
        };
        assert!(bx.contains(16.0, 37.0).is_some());
        assert!(bx.contains(15.0, 38.0).is_none());
    }
}
