//! The tree against RFC 6962/9162 test vectors (the leaves and roots of the certificate-
//! transparency reference tests) and against a literal transcription of the RFC's recursive
//! definitions, for every tree size up to 40.

use super::*;

fn hex(text: &str) -> Hash {
    let bytes: Vec<u8> = (0..text.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(&text[at..at + 2], 16).expect("hex"))
        .collect();
    bytes.try_into().expect("32 bytes")
}

fn vector_leaves() -> Vec<Vec<u8>> {
    [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ]
    .iter()
    .map(|text| {
        (0..text.len())
            .step_by(2)
            .map(|at| u8::from_str_radix(&text[at..at + 2], 16).expect("hex"))
            .collect()
    })
    .collect()
}

const VECTOR_ROOTS: [&str; 8] = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

/// MTH(D[n]) exactly as RFC 9162 2.1.1 defines it.
fn reference_mth(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => empty_root(),
        1 => leaves[0],
        n => {
            let k = split(n as u64) as usize;
            node_hash(&reference_mth(&leaves[..k]), &reference_mth(&leaves[k..]))
        }
    }
}

/// MTH of a range through its perfect pieces, as the hub computes it from stored subtrees.
fn range_hash(leaves: &[Hash], lo: u64, hi: u64) -> Hash {
    let hashes: Vec<Hash> = perfect_pieces(lo, hi)
        .into_iter()
        .map(|(level, index)| {
            let start = (index << level) as usize;
            reference_mth(&leaves[start..start + (1 << level)])
        })
        .collect();
    fold_pieces(&hashes).expect("non-empty range")
}

fn leaves(n: usize) -> Vec<Hash> {
    (0..n).map(|i| leaf_hash(&i.to_be_bytes())).collect()
}

#[test]
fn roots_match_the_rfc_test_vectors() {
    let hashes: Vec<Hash> = vector_leaves().iter().map(|d| leaf_hash(d)).collect();
    let mut frontier = Frontier::default();
    for (n, expected) in VECTOR_ROOTS.iter().enumerate() {
        frontier.push(hashes[n], |_, _, _| {});
        assert_eq!(frontier.root(), hex(expected), "size {}", n + 1);
        assert_eq!(reference_mth(&hashes[..=n]), hex(expected));
    }
    assert_eq!(
        Frontier::default().root(),
        hex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    );
}

#[test]
fn the_frontier_agrees_with_the_definition_and_names_every_subtree() {
    let all = leaves(40);
    let mut frontier = Frontier::default();
    for n in 1..=all.len() {
        frontier.push(all[n - 1], |level, index, hash| {
            let start = (index << level) as usize;
            assert_eq!(*hash, reference_mth(&all[start..start + (1 << level)]));
        });
        assert_eq!(frontier.root(), reference_mth(&all[..n]), "size {n}");
        let pieces: Vec<Hash> = perfect_pieces(0, n as u64)
            .into_iter()
            .map(|(level, index)| {
                let start = (index << level) as usize;
                reference_mth(&all[start..start + (1 << level)])
            })
            .collect();
        let rebuilt = Frontier::from_pieces(n as u64, &pieces).expect("pieces");
        assert_eq!(rebuilt, frontier);
    }
}

#[test]
fn every_inclusion_proof_verifies_and_a_tampered_one_does_not() {
    let all = leaves(40);
    for size in 1..=all.len() as u64 {
        let root = reference_mth(&all[..size as usize]);
        for index in 0..size {
            let proof: Vec<Hash> = inclusion_ranges(index, size)
                .into_iter()
                .map(|(lo, hi)| range_hash(&all, lo, hi))
                .collect();
            let leaf = all[index as usize];
            verify_inclusion(index, size, &leaf, &proof, &root).expect("verifies");
            for at in 0..proof.len() {
                let mut bad = proof.clone();
                bad[at][0] ^= 1;
                assert!(verify_inclusion(index, size, &leaf, &bad, &root).is_err());
            }
            if size > 1 {
                let other = (index + 1) % size;
                assert!(verify_inclusion(other, size, &leaf, &proof, &root).is_err());
            }
            assert!(
                verify_inclusion(
                    index,
                    size,
                    &leaf,
                    &proof[..proof.len().saturating_sub(1)],
                    &root
                )
                .is_err()
                    || proof.is_empty()
            );
        }
    }
}

#[test]
fn every_consistency_proof_verifies_and_a_tampered_one_does_not() {
    let all = leaves(40);
    for second in 1..=all.len() as u64 {
        let second_root = reference_mth(&all[..second as usize]);
        for first in 1..=second {
            let first_root = reference_mth(&all[..first as usize]);
            let proof: Vec<Hash> = consistency_ranges(first, second)
                .into_iter()
                .map(|(lo, hi)| range_hash(&all, lo, hi))
                .collect();
            verify_consistency(first, second, &first_root, &second_root, &proof).expect("verifies");
            for at in 0..proof.len() {
                let mut bad = proof.clone();
                bad[at][31] ^= 0x80;
                assert!(
                    verify_consistency(first, second, &first_root, &second_root, &bad).is_err()
                );
            }
            let mut forged_first = first_root;
            forged_first[0] ^= 1;
            assert!(
                verify_consistency(first, second, &forged_first, &second_root, &proof).is_err()
            );
        }
    }
}

#[test]
fn proofs_match_the_reference_vectors() {
    let hashes: Vec<Hash> = vector_leaves().iter().map(|d| leaf_hash(d)).collect();
    let path: Vec<Hash> = inclusion_ranges(0, 8)
        .into_iter()
        .map(|(lo, hi)| range_hash(&hashes, lo, hi))
        .collect();
    assert_eq!(
        path,
        [
            hex("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
            hex("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            hex("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
        ]
    );
    let consistency: Vec<Hash> = consistency_ranges(6, 8)
        .into_iter()
        .map(|(lo, hi)| range_hash(&hashes, lo, hi))
        .collect();
    assert_eq!(
        consistency,
        [
            hex("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
            hex("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
            hex("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ]
    );
}
