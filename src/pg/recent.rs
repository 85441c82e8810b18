//! A few values kept by key, the most recently used first: what repeats
//! from row to row in a bulk write (an UPDATE's lists of changed columns,
//! the client's address) is made once and found again, where a single kept
//! value misses when rows alternate between a few.

use std::borrow::Borrow;

pub struct Recent<K, V> {
    entries: Vec<(K, V)>,
    most: usize,
}

impl<K, V> Recent<K, V> {
    /// Keeps at most `most` values (at least one).
    pub const fn new(most: usize) -> Self {
        Recent {
            entries: Vec::new(),
            most: if most == 0 { 1 } else { most },
        }
    }

    /// The value kept for `key`, now the most recent; when none is, the
    /// one `make` makes (with the key to keep it by), and the least
    /// recently used goes to `evict` if that makes one too many.
    pub fn get_or_make<Q>(
        &mut self,
        key: &Q,
        make: impl FnOnce() -> (K, V),
        evict: impl FnOnce(V),
    ) -> &V
    where
        K: Borrow<Q>,
        Q: PartialEq + ?Sized,
    {
        match self.entries.iter().position(|(k, _)| k.borrow() == key) {
            Some(i) => self.entries[..=i].rotate_right(1),
            None => {
                if self.entries.len() == self.most {
                    if let Some((_, old)) = self.entries.pop() {
                        evict(old);
                    }
                }
                self.entries.insert(0, make());
            }
        }
        &self.entries[0].1
    }
}

#[cfg(test)]
mod unit {
    use super::Recent;

    /// Looks `key` up, making its value upper case; returns the value,
    /// whether it was made, and what was evicted.
    fn get(recent: &mut Recent<String, String>, key: &str) -> (String, bool, Option<String>) {
        let (mut made, mut evicted) = (false, None);
        let value = recent
            .get_or_make(
                key,
                || {
                    made = true;
                    (key.to_string(), key.to_uppercase())
                },
                |v| evicted = Some(v),
            )
            .clone();
        (value, made, evicted)
    }

    #[test]
    fn a_value_is_made_once_while_kept() {
        let mut recent = Recent::new(4);
        assert_eq!(get(&mut recent, "ab"), ("AB".into(), true, None));
        assert_eq!(get(&mut recent, "ab"), ("AB".into(), false, None));
        // Two keys alternating, as an UPDATE's lists of changed columns do.
        assert_eq!(get(&mut recent, "c"), ("C".into(), true, None));
        assert_eq!(get(&mut recent, "ab"), ("AB".into(), false, None));
        assert_eq!(get(&mut recent, "c"), ("C".into(), false, None));
    }

    #[test]
    fn the_least_recently_used_goes_first() {
        let mut recent = Recent::new(4);
        for k in ["a", "b", "c", "d"] {
            assert!(get(&mut recent, k).1);
        }
        assert!(!get(&mut recent, "a").1); // now the most recent
        assert_eq!(get(&mut recent, "e").2, Some("B".into())); // "b", the least recent
        assert!(!get(&mut recent, "a").1);
        assert_eq!(get(&mut recent, "b"), ("B".into(), true, Some("C".into())));
        assert_eq!(recent.entries.len(), 4);
    }

    #[test]
    fn at_least_one_is_kept() {
        let mut recent = Recent::new(0);
        assert!(get(&mut recent, "a").1);
        assert!(!get(&mut recent, "a").1);
        assert_eq!(get(&mut recent, "b").2, Some("A".into()));
    }
}
