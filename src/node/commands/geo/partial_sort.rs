//! Redis's `pqsort`: a quicksort that only orders the part of the array a range of ranks
//! falls in. `GEOSEARCH … COUNT n` sorts its matches with it when there are more than `n`,
//! and since it is not stable, the members it returns among equally distant ones depend on
//! its exact steps: this follows them (Bentley–McIlroy three-way partitioning, median of
//! three or ninther pivots, insertion sort below seven elements).
//!
//! Parts are kept on a work list rather than recursed into, so no input can exhaust the
//! stack; the parts are disjoint, so the order they are sorted in changes nothing.

/// A three-way comparison (`< 0`, `0`, `> 0`), as C's `qsort` takes.
pub type Compare<T> = fn(&T, &T) -> i32;

/// Sorts `v` so that ranks `lrange..=rrange` hold the elements a full sort would put there.
pub fn partial_sort<T>(v: &mut [T], cmp: Compare<T>, lrange: usize, rrange: usize) {
    let mut work = vec![(0usize, v.len())];
    while let Some((start, len)) = work.pop() {
        sort_part(v, start, len, cmp, (lrange, rrange), &mut work);
    }
}

/// Whether the part `start..start + len` can hold one of the wanted ranks.
fn wanted(start: usize, len: usize, (l, r): (usize, usize)) -> bool {
    let end = start + len;
    !((l < start && r < start) || (l >= end && r >= end))
}

fn med3<T>(v: &[T], a: usize, b: usize, c: usize, cmp: Compare<T>) -> usize {
    if cmp(&v[a], &v[b]) < 0 {
        if cmp(&v[b], &v[c]) < 0 {
            b
        } else if cmp(&v[a], &v[c]) < 0 {
            c
        } else {
            a
        }
    } else if cmp(&v[b], &v[c]) > 0 {
        b
    } else if cmp(&v[a], &v[c]) < 0 {
        a
    } else {
        c
    }
}

fn vecswap<T>(v: &mut [T], a: usize, b: usize, n: usize) {
    for k in 0..n {
        v.swap(a + k, b + k);
    }
}

/// One partitioning of `start..start + len`, pushing the wanted sub-parts onto `work`.
fn sort_part<T>(
    v: &mut [T],
    a: usize,
    n: usize,
    cmp: Compare<T>,
    ranks: (usize, usize),
    work: &mut Vec<(usize, usize)>,
) {
    if n < 7 {
        for pm in a + 1..a + n {
            let mut pl = pm;
            while pl > a && cmp(&v[pl - 1], &v[pl]) > 0 {
                v.swap(pl, pl - 1);
                pl -= 1;
            }
        }
        return;
    }
    let mut pm = a + n / 2;
    if n > 7 {
        let mut pl = a;
        let mut pn = a + n - 1;
        if n > 40 {
            let d = n / 8;
            pl = med3(v, pl, pl + d, pl + 2 * d, cmp);
            pm = med3(v, pm - d, pm, pm + d, cmp);
            pn = med3(v, pn - 2 * d, pn - d, pn, cmp);
        }
        pm = med3(v, pl, pm, pn, cmp);
    }
    v.swap(a, pm);
    let (mut pa, mut pb) = (a + 1, a + 1);
    let (mut pc, mut pd) = (a + n - 1, a + n - 1);
    loop {
        while pb <= pc {
            let c = cmp(&v[pb], &v[a]);
            if c > 0 {
                break;
            }
            if c == 0 {
                v.swap(pa, pb);
                pa += 1;
            }
            pb += 1;
        }
        while pb <= pc {
            let c = cmp(&v[pc], &v[a]);
            if c < 0 {
                break;
            }
            if c == 0 {
                v.swap(pc, pd);
                pd -= 1;
            }
            pc -= 1;
        }
        if pb > pc {
            break;
        }
        v.swap(pb, pc);
        pb += 1;
        pc -= 1;
    }
    let pn = a + n;
    let r = (pa - a).min(pb - pa);
    vecswap(v, a, pb - r, r);
    let r = (pd - pc).min(pn - pd - 1);
    vecswap(v, pb, pn - r, r);
    let r = pb - pa;
    if r > 1 && wanted(a, r, ranks) {
        work.push((a, r));
    }
    let r = pd - pc;
    if r > 1 && wanted(pn - r, r, ranks) {
        work.push((pn - r, r));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn cmp(a: &(u32, usize), b: &(u32, usize)) -> i32 {
        a.0.cmp(&b.0) as i32
    }

    #[test]
    fn the_wanted_ranks_hold_what_a_full_sort_puts_there() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        for _ in 0..300 {
            let n = rng.gen_range(0..200);
            let v: Vec<(u32, usize)> = (0..n).map(|i| (rng.gen_range(0..20), i)).collect();
            let mut sorted = v.clone();
            sorted.sort_by_key(|e| e.0);
            let mut part = v.clone();
            let k = if n == 0 { 0 } else { rng.gen_range(0..n) };
            partial_sort(&mut part, cmp, 0, k);
            let keys = |s: &[(u32, usize)]| s.iter().map(|e| e.0).collect::<Vec<_>>();
            if n > 0 {
                assert_eq!(keys(&part[..=k]), keys(&sorted[..=k]));
            }
            let mut all = part.clone();
            all.sort();
            let mut orig = v.clone();
            orig.sort();
            assert_eq!(all, orig, "a permutation");
        }
    }

    #[test]
    fn small_parts_sort_by_insertion_stably() {
        let mut v = vec![(2, 0), (1, 1), (2, 2), (1, 3)];
        partial_sort(&mut v, cmp, 0, 1);
        assert_eq!(v, [(1, 1), (1, 3), (2, 0), (2, 2)]);
    }
}
