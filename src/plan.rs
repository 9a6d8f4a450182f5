//! Plan: decide, for one module, which cache becomes a link to which, before touching the disk.
//!
//! The plan is pure: it sees identities and asks a content oracle, so `--dry-run`, `--json` and
//! the real run share it, and the tests can drive it with any oracle. Inside each layout group
//! the caches are partitioned into classes of identical bytes (the maximal partition: also when
//! level 0 is missing, also 0 and 2 when 1 differs), and every member of a class is linked to
//! the class's lowest level, so two builds give the same hardlink sets.

use crate::error::Error;
use crate::group::InspectedCache;
use crate::layout::Layout;

/// Replace `dup` (an index into [`ModulePlan::caches`]) by a link to `keep`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinkAction {
    pub keep: usize,
    pub dup: usize,
}

#[derive(Debug)]
pub struct ModulePlan {
    pub caches: Vec<InspectedCache>,
    pub links: Vec<LinkAction>,
    /// Bytes freed once the links are made: a duplicate inode is freed only when all its names
    /// are relinked.
    pub bytes_saved: u64,
    /// Caches that already share the inode of their class's kept file.
    pub already_linked: usize,
    /// Pairs with identical bytes that are not linked because mode or owner differ.
    pub metadata_differs: Vec<(usize, usize)>,
}

/// Plans one module. `caches` must be sorted by level; `same_bytes` compares two files' contents
/// and is asked only about files of equal size on one device and not already one inode.
pub fn plan_module(
    caches: Vec<InspectedCache>,
    layout: &Layout,
    mut same_bytes: impl FnMut(&InspectedCache, &InspectedCache) -> Result<bool, Error>,
) -> Result<ModulePlan, Error> {
    let mut links = Vec::new();
    let mut already_linked = 0;
    let mut metadata_differs = Vec::new();
    for group in 0..layout.groups().len() {
        let members = (0..caches.len()).filter(|&i| layout.group_of(&caches[i].level) == Some(group));
        let mut classes: Vec<Vec<usize>> = Vec::new();
        'member: for i in members {
            for class in classes.iter_mut() {
                let (rep, this) = (&caches[class[0]], &caches[i]);
                if this.id.same_inode(&rep.id) {
                    class.push(i);
                    continue 'member;
                }
                if this.id.dev != rep.id.dev || this.id.size != rep.id.size || !same_bytes(rep, this)? {
                    continue;
                }
                if this.id.linkable_with(&rep.id) {
                    class.push(i);
                    continue 'member;
                }
                metadata_differs.push((class[0], i));
            }
            classes.push(vec![i]);
        }
        for class in classes {
            let keep = class[0];
            for &dup in &class[1..] {
                if caches[dup].id.same_inode(&caches[keep].id) {
                    already_linked += 1;
                } else {
                    links.push(LinkAction { keep, dup });
                }
            }
        }
    }
    let bytes_saved = bytes_freed(&caches, &links);
    Ok(ModulePlan { caches, links, bytes_saved, already_linked, metadata_differs })
}

/// The caches that must become copies of their own before linking inside a layout: those that
/// share an inode with a cache of another layout group (linked earlier, before the layout was
/// known). The group of the inode's lowest level keeps it; rpm would otherwise store the set in
/// full in each subpackage. Levels the layout does not name are left alone.
pub fn cross_group_sharers(caches: &[InspectedCache], layout: &Layout) -> Vec<usize> {
    let mut separate = Vec::new();
    for (i, cache) in caches.iter().enumerate() {
        let Some(group) = layout.group_of(&cache.level) else { continue };
        // `caches` is sorted by level: the first holder of the inode decides its home group.
        let home = caches.iter().find(|c| c.id.same_inode(&cache.id)).and_then(|c| layout.group_of(&c.level));
        if home.is_some_and(|home| home != group) {
            separate.push(i);
        }
    }
    separate
}

/// Bytes freed by making `links`: a duplicate inode is freed only when all its names are relinked.
pub fn bytes_freed(caches: &[InspectedCache], links: &[LinkAction]) -> u64 {
    let mut freed = 0;
    for (n, link) in links.iter().enumerate() {
        let dup = &caches[link.dup].id;
        // Count each duplicate inode once, at its first relinked name.
        if links[..n].iter().any(|l| caches[l.dup].id.same_inode(dup)) {
            continue;
        }
        let relinked = links.iter().filter(|l| caches[l.dup].id.same_inode(dup)).count() as u64;
        if relinked == dup.nlink {
            freed += dup.size;
        }
    }
    freed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::Level;
    use crate::group::Identity;

    /// A cache whose "content" is `content`, stored in inode `ino`.
    fn cache(level: Level, ino: u64, content: u8, nlink: u64) -> InspectedCache {
        InspectedCache {
            path: format!("m.{level}.{content}").into(),
            name: std::ffi::CString::new(format!("m.{level}.{content}")).unwrap(),
            level,
            id: Identity { dev: 1, ino, size: 10, mode: 0o644, uid: 0, gid: 0, mtime: (0, 0), nlink },
        }
    }

    fn plan(caches: Vec<InspectedCache>, layout: &str) -> ModulePlan {
        let layout = if layout.is_empty() { Layout::default() } else { layout.parse().unwrap() };
        let content = |c: &InspectedCache| c.path.to_str().unwrap().rsplit('.').next().unwrap().to_string();
        plan_module(caches, &layout, |a, b| Ok(content(a) == content(b))).unwrap()
    }

    fn pairs(p: &ModulePlan) -> Vec<(usize, usize)> {
        p.links.iter().map(|l| (l.keep, l.dup)).collect()
    }

    #[test]
    fn maximal_partition() {
        use Level::*;
        let p = plan(vec![cache(Zero, 1, b'a', 1), cache(One, 2, b'a', 1), cache(Two, 3, b'a', 1)], "");
        assert_eq!((pairs(&p), p.bytes_saved), (vec![(0, 1), (0, 2)], 20));
        let p = plan(vec![cache(Zero, 1, b'a', 1), cache(One, 2, b'b', 1), cache(Two, 3, b'a', 1)], "");
        assert_eq!(pairs(&p), [(0, 2)], "0 and 2 are linked when 1 differs");
        let p = plan(vec![cache(One, 2, b'b', 1), cache(Two, 3, b'b', 1)], "");
        assert_eq!(pairs(&p), [(0, 1)], "opt-only modules link too");
    }

    #[test]
    fn layouts_keep_links_inside_a_group() {
        use Level::*;
        let all = || vec![cache(Zero, 1, b'a', 1), cache(One, 2, b'a', 1), cache(Two, 3, b'a', 1)];
        assert_eq!(pairs(&plan(all(), "0,12")), [(1, 2)]);
        assert_eq!(pairs(&plan(all(), "0,1,2")), []);
        assert_eq!(pairs(&plan(all(), "01,2")), [(0, 1)]);
        assert_eq!(pairs(&plan(all(), "012")), [(0, 1), (0, 2)]);
    }

    #[test]
    fn already_linked_files_need_no_action_and_save_nothing() {
        use Level::*;
        let p = plan(vec![cache(Zero, 1, b'a', 3), cache(One, 1, b'a', 3), cache(Two, 1, b'a', 3)], "");
        assert_eq!((p.links.len(), p.already_linked, p.bytes_saved), (0, 2, 0));
        // 1 and 2 share an inode, identical to 0: both are relinked, the inode is freed once.
        let p = plan(vec![cache(Zero, 1, b'a', 1), cache(One, 2, b'a', 2), cache(Two, 2, b'a', 2)], "");
        assert_eq!((pairs(&p), p.bytes_saved), (vec![(0, 1), (0, 2)], 10));
        // A duplicate with a link elsewhere frees nothing.
        let p = plan(vec![cache(Zero, 1, b'a', 1), cache(One, 2, b'a', 2)], "");
        assert_eq!((pairs(&p), p.bytes_saved), (vec![(0, 1)], 0));
    }

    #[test]
    fn differing_mode_or_owner_is_never_linked() {
        use Level::*;
        let mut other = cache(One, 2, b'a', 1);
        other.id.mode = 0o600;
        let p = plan(vec![cache(Zero, 1, b'a', 1), other], "");
        assert_eq!((p.links.len(), p.metadata_differs.clone()), (0, vec![(0, 1)]));
        let mut other = cache(One, 2, b'a', 1);
        other.id.gid = 7;
        assert!(plan(vec![cache(Zero, 1, b'a', 1), other], "").links.is_empty());
    }

    #[test]
    fn links_across_layout_groups_are_separated_in_the_higher_group() {
        use Level::*;
        // 0 and 1 are one inode (linked before), 2 has the same bytes.
        let caches = vec![cache(Zero, 1, b'a', 2), cache(One, 1, b'a', 2), cache(Two, 2, b'a', 1)];
        assert_eq!(cross_group_sharers(&caches, &"0,12".parse().unwrap()), [1]);
        assert_eq!(cross_group_sharers(&caches, &"0,1,2".parse().unwrap()), [1]);
        assert!(cross_group_sharers(&caches, &"01,2".parse().unwrap()).is_empty());
        assert!(cross_group_sharers(&caches, &Layout::default()).is_empty());
        // A level the layout does not name is not shipped by a subpackage: left alone.
        assert!(cross_group_sharers(&caches, &"0,2".parse().unwrap()).is_empty());
    }

    #[test]
    fn oracle_errors_abandon_the_module() {
        let caches = vec![cache(Level::Zero, 1, b'a', 1), cache(Level::One, 2, b'a', 1)];
        let paths: Vec<std::path::PathBuf> = caches.iter().map(|c| c.path.clone()).collect();
        let r = plan_module(caches, &Layout::default(), |a, _| Err(Error::Changed(a.path.clone())));
        assert!(matches!(&r, Err(Error::Changed(p)) if paths.contains(p)), "{r:?}");
    }
}
