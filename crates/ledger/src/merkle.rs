//! RFC 6962 / RFC 9162 Merkle tree hashing over a stream's row hashes.
//!
//! Leaf `i` of a stream's tree is `SHA-256(0x00 || row_hash(seq = i))`; an interior node is
//! `SHA-256(0x01 || left || right)`; the tree over `n` leaves splits at the largest power
//! of two below `n` (RFC 6962 §2.1). Everything here works in a single forward pass with
//! `O(log n)` memory, so a stream of any length can be hashed, checked or proven without
//! holding its leaves.

use sha2::{Digest, Sha256};

use crate::Hash;

/// Hash of the empty tree (RFC 6962 §2.1: `MTH({}) = SHA-256()`).
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// `SHA-256(0x00 || data)`: the hash of a leaf whose data is a row hash.
pub fn leaf_hash(row_hash: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([0x00]);
    h.update(row_hash);
    h.finalize().into()
}

/// `SHA-256(0x01 || left || right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([0x01]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The right edge of a left-balanced Merkle tree: the roots of its perfect subtrees,
/// largest first. Their sizes are the set bits of `size`, so the frontier after `n`
/// leaves is all that is needed to keep appending and to compute the root at `n`.
///
/// A manifest stores the frontier at its tree size, which is how an appender continues
/// the stream-wide tree without reading earlier segments.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    /// Perfect-subtree roots, largest (leftmost) first.
    nodes: Vec<Hash>,
}

impl Frontier {
    /// A frontier over no leaves.
    pub fn new() -> Self {
        Self::default()
    }

    /// Rebuilds a frontier from a stored size and node list, checking that the number of
    /// nodes matches the set bits of `size`.
    pub fn from_parts(size: u64, nodes: Vec<Hash>) -> Option<Self> {
        (nodes.len() == size.count_ones() as usize).then_some(Self { size, nodes })
    }

    /// Number of leaves appended so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The perfect-subtree roots, largest first.
    pub fn nodes(&self) -> &[Hash] {
        &self.nodes
    }

    /// Appends one leaf, given as its row hash.
    pub fn push_row(&mut self, row_hash: &Hash) {
        self.push_leaf(leaf_hash(row_hash));
    }

    /// Appends one already-hashed leaf.
    pub fn push_leaf(&mut self, leaf: Hash) {
        self.push_subtree(0, leaf);
    }

    /// Appends a perfect subtree of `2^height` leaves whose first leaf is at index
    /// `self.size()`, which must be a multiple of `2^height` (as the parts of a
    /// [`CompactRange`] are).
    pub fn push_subtree(&mut self, height: u32, root: Hash) {
        debug_assert_eq!(self.size % (1u64 << height), 0, "subtree not aligned");
        let mut node = root;
        // Each one bit of the size above `height` is a perfect subtree of the same height as
        // the node being carried: merge them, like binary addition.
        let mut carry = self.size >> height;
        while carry & 1 == 1 {
            let left = self.nodes.pop().expect("frontier holds a node per set bit");
            node = node_hash(&left, &node);
            carry >>= 1;
        }
        self.nodes.push(node);
        self.size += 1u64 << height;
    }

    /// `MTH` of all leaves appended so far.
    pub fn root(&self) -> Hash {
        let mut iter = self.nodes.iter().rev();
        match iter.next() {
            None => empty_root(),
            Some(last) => iter.fold(*last, |acc, left| node_hash(left, &acc)),
        }
    }
}

/// The leaves `[start, end)` of a tree as the aligned perfect subtrees that cover them, in
/// order: what a worker hashes for a slice of a stream so that the stream's frontier only
/// has to merge `O(log n)` nodes per slice (see [`Frontier::push_subtree`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CompactRange {
    start: u64,
    /// `(first leaf index, height, root)`, in leaf order.
    nodes: Vec<(u64, u32, Hash)>,
}

impl CompactRange {
    /// An empty range starting at leaf `start`.
    pub fn new(start: u64) -> Self {
        Self { start, nodes: Vec::new() }
    }

    /// Index of the first leaf.
    pub fn start(&self) -> u64 {
        self.start
    }

    /// Index one past the last leaf.
    pub fn end(&self) -> u64 {
        self.nodes.last().map_or(self.start, |(i, h, _)| i + (1u64 << h))
    }

    /// Appends the next leaf (already hashed).
    pub fn push_leaf(&mut self, leaf: Hash) {
        let index = self.end();
        self.nodes.push((index, 0, leaf));
        // Merge the two last subtrees while they are siblings: equal height, and the left
        // one starts at a multiple of twice that size.
        while let [.., (li, lh, l), (_, rh, r)] = self.nodes[..] {
            if lh != rh || li % (1u64 << (lh + 1)) != 0 {
                break;
            }
            let merged = node_hash(&l, &r);
            self.nodes.truncate(self.nodes.len() - 2);
            self.nodes.push((li, lh + 1, merged));
        }
    }

    /// Adds this range to a frontier that ends where it starts.
    pub fn append_to(&self, frontier: &mut Frontier) {
        debug_assert_eq!(frontier.size(), self.start);
        for (_, height, root) in &self.nodes {
            frontier.push_subtree(*height, *root);
        }
    }
}

/// The leaf ranges `[start, end)` whose subtree roots form the audit path of leaf `index`
/// in a tree of `size` leaves, in the order RFC 6962 `PATH` lists them (nearest first).
pub fn audit_path_ranges(index: u64, size: u64) -> Vec<(u64, u64)> {
    fn walk(m: u64, start: u64, end: u64, out: &mut Vec<(u64, u64)>) {
        let n = end - start;
        if n <= 1 {
            return;
        }
        let k = largest_power_of_two_below(n);
        if m < k {
            walk(m, start, start + k, out);
            out.push((start + k, end));
        } else {
            walk(m - k, start + k, end, out);
            out.push((start, start + k));
        }
    }
    assert!(index < size, "leaf index {index} outside tree of size {size}");
    let mut out = Vec::new();
    walk(index, 0, size, &mut out);
    out
}

/// Largest power of two strictly less than `n` (`n >= 2`).
fn largest_power_of_two_below(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1u64 << (63 - (n - 1).leading_zeros())
}

/// Recomputes a root from a leaf hash and its audit path (RFC 9162 §2.1.3.2).
/// Returns `None` when the path has the wrong length for `index` and `size`.
pub fn root_from_inclusion_proof(index: u64, size: u64, leaf: &Hash, path: &[Hash]) -> Option<Hash> {
    if index >= size {
        return None;
    }
    let (mut fn_, mut sn) = (index, size - 1);
    let mut r = *leaf;
    for p in path {
        if sn == 0 {
            return None;
        }
        if fn_ & 1 == 1 || fn_ == sn {
            r = node_hash(p, &r);
            if fn_ & 1 == 0 {
                while fn_ & 1 == 0 && fn_ != 0 {
                    fn_ >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    (sn == 0).then_some(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(n: u64) -> Vec<Hash> {
        (0..n).map(|i| Sha256::digest(i.to_be_bytes()).into()).collect()
    }

    /// RFC 6962 `MTH`, written recursively exactly as the RFC states it.
    fn mth(leaves: &[Hash]) -> Hash {
        match leaves.len() {
            0 => empty_root(),
            1 => leaves[0],
            n => {
                let k = largest_power_of_two_below(n as u64) as usize;
                node_hash(&mth(&leaves[..k]), &mth(&leaves[k..]))
            }
        }
    }

    #[test]
    fn frontier_root_equals_recursive_definition() {
        for n in 0..70u64 {
            let leaves: Vec<Hash> = rows(n).iter().map(leaf_hash).collect();
            let mut f = Frontier::new();
            for r in rows(n) {
                f.push_row(&r);
            }
            assert_eq!(f.root(), mth(&leaves), "size {n}");
            assert_eq!(f.nodes().len(), n.count_ones() as usize);
        }
    }

    #[test]
    fn compact_ranges_merge_into_the_same_tree() {
        let hashes = rows(300);
        let mut whole = Frontier::new();
        for h in &hashes {
            whole.push_row(h);
        }
        // Arbitrary, unaligned cut points, as segment boundaries are.
        for cuts in [vec![0, 300], vec![0, 1, 2, 300], vec![0, 97, 128, 129, 250, 300], vec![0, 63, 64, 65, 300]] {
            let mut f = Frontier::new();
            for w in cuts.windows(2) {
                let mut range = CompactRange::new(w[0]);
                for h in &hashes[w[0] as usize..w[1] as usize] {
                    range.push_leaf(leaf_hash(h));
                }
                assert_eq!(range.end(), w[1]);
                range.append_to(&mut f);
                let mut prefix = Frontier::new();
                for h in &hashes[..w[1] as usize] {
                    prefix.push_row(h);
                }
                assert_eq!(f, prefix, "cuts {cuts:?} at {}", w[1]);
            }
            assert_eq!(f.root(), whole.root());
        }
    }

    #[test]
    fn known_answer_from_rfc6962_test_vectors() {
        // The certificate-transparency-go reference tree uses leaves "" , "\x00", "\x10", ...
        // For the empty tree the root is SHA-256 of nothing.
        assert_eq!(hex::encode(empty_root()), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        // Leaf hash of empty data: SHA-256(0x00).
        let mut h = Sha256::new();
        h.update([0u8]);
        assert_eq!(hex::encode(h.finalize()), "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d");
    }

    #[test]
    fn every_inclusion_path_verifies_and_wrong_ones_do_not() {
        for size in 1..40u64 {
            let leaves: Vec<Hash> = rows(size).iter().map(leaf_hash).collect();
            let root = mth(&leaves);
            for index in 0..size {
                let path: Vec<Hash> = audit_path_ranges(index, size).into_iter().map(|(a, b)| mth(&leaves[a as usize..b as usize])).collect();
                let got = root_from_inclusion_proof(index, size, &leaves[index as usize], &path);
                assert_eq!(got, Some(root), "index {index} size {size}");
                if size > 1 {
                    let other = (index + 1) % size;
                    let wrong = root_from_inclusion_proof(other, size, &leaves[index as usize], &path);
                    assert_ne!(wrong, Some(root), "index {index} proven at {other}");
                }
                // A path one entry short never reaches a root.
                if !path.is_empty() {
                    assert_eq!(root_from_inclusion_proof(index, size, &leaves[index as usize], &path[1..]), None);
                }
            }
        }
    }
}
