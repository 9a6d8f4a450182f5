//! Plan: decide, for one module, which cache becomes a link to which, before touching the disk.
//!
//! The plan is pure: it sees identities and asks a content oracle, so `--dry-run`, `--json` and
//! the real run share it, and the tests can drive it with any oracle. Inside each layout group
//! the caches are partitioned into classes of identical bytes (the maximal partition: also when
//! level 0 is missing, also 0 and 2 when 1 differs), and every member of a class is linked to
//! the class's lowest level, so two builds give the same hardlink sets.

use crate::error::Error;
use crate::link::classify::Level;
use crate::link::group::InspectedCache;
use crate::link::layout::Layout;

/// Replace `dup` (an index into [`ModulePlan::caches`]) by a link to `keep`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinkAction {
    pub keep: usize,
    pub dup: usize,
}

#[derive(Debug)]
pub struct ModulePlan {
    pub caches: Vec<InspectedCache>,
    /// Caches to give an inode of their own first: they share one with a cache of another
    /// layout group (see [`cross_group_links`]). The links below assume it was done.
    pub separate: Vec<usize>,
    pub links: Vec<LinkAction>,
    /// Bytes freed once the links are made: a duplicate inode is freed only when all its names
    /// are relinked.
    pub bytes_saved: u64,
    /// Caches that already share the inode of their class's kept file.
    pub already_linked: usize,
    /// Pairs with identical bytes that are not linked because mode or owner differ.
    pub metadata_differs: Vec<(usize, usize)>,
}

impl ModulePlan {
    /// Whether caches `a` and `b` are one stored file once the separations are made.
    fn one_inode(&self, a: usize, b: usize) -> bool {
        one_inode(&self.caches, &self.separate, a, b)
    }

    /// Bytes freed by the first `applied` links.
    pub fn bytes_freed(&self, applied: usize) -> u64 {
        let links = &self.links[..applied];
        let mut freed = 0;
        for (n, link) in links.iter().enumerate() {
            // Count each duplicate inode once, at its first relinked name.
            if links[..n].iter().any(|l| self.one_inode(l.dup, link.dup)) {
                continue;
            }
            let relinked = links.iter().filter(|l| self.one_inode(l.dup, link.dup)).count() as u64;
            // A separated cache is a new file with no other name.
            let nlink = if self.separate.contains(&link.dup) { 1 } else { self.caches[link.dup].id.nlink };
            if relinked == nlink {
                freed += self.caches[link.dup].id.size;
            }
        }
        freed
    }
}

fn one_inode(caches: &[InspectedCache], separate: &[usize], a: usize, b: usize) -> bool {
    a == b || (!separate.contains(&a) && !separate.contains(&b) && caches[a].id.same_inode(&caches[b].id))
}

/// Plans one module. `caches` must be sorted by level; `same_bytes` compares two files' contents
/// and is asked only about files of equal size on one device and not already one inode.
pub fn plan_module(
    caches: Vec<InspectedCache>,
    layout: &Layout,
    mut same_bytes: impl FnMut(&InspectedCache, &InspectedCache) -> Result<bool, Error>,
) -> Result<ModulePlan, Error> {
    let stored: Vec<_> = caches.iter().map(|c| (&c.level, Some((c.id.dev, c.id.ino)))).collect();
    let separate: Vec<usize> = cross_group_links(&stored, layout).into_iter().map(|(_, sharer)| sharer).collect();
    let mut links = Vec::new();
    let mut already_linked = 0;
    let mut metadata_differs = Vec::new();
    for group in 0..layout.groups().len() {
        let members = (0..caches.len()).filter(|&i| layout.group_of(&caches[i].level) == Some(group));
        let mut classes: Vec<Vec<usize>> = Vec::new();
        'member: for i in members {
            for class in classes.iter_mut() {
                let rep = class[0];
                let verdict = if one_inode(&caches, &separate, rep, i) {
                    Verdict::OneInode
                } else {
                    let (a, b) = (&caches[rep].id, &caches[i].id);
                    verdict((a.dev, a.size, a.mode, (a.uid, a.gid)), (b.dev, b.size, b.mode, (b.uid, b.gid)), || {
                        same_bytes(&caches[rep], &caches[i])
                    })?
                };
                match verdict {
                    Verdict::OneInode | Verdict::Linkable => {
                        class.push(i);
                        continue 'member;
                    }
                    Verdict::MetadataDiffers => metadata_differs.push((rep, i)),
                    Verdict::Different => {}
                }
            }
            classes.push(vec![i]);
        }
        for class in classes {
            let keep = class[0];
            for &dup in &class[1..] {
                if one_inode(&caches, &separate, keep, dup) {
                    already_linked += 1;
                } else {
                    links.push(LinkAction { keep, dup });
                }
            }
        }
    }
    let mut plan = ModulePlan { caches, separate, links, bytes_saved: 0, already_linked, metadata_differs };
    plan.bytes_saved = plan.bytes_freed(plan.links.len());
    Ok(plan)
}

/// What linking two caches of one module (and one layout group) would be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// They are one stored file already.
    OneInode,
    /// Same device, size, bytes, mode and owner: one may become a link of the other.
    Linkable,
    /// Same bytes, but mode or owner differ: a link would change one of them, so never.
    MetadataDiffers,
    /// Different bytes, or on different devices.
    Different,
}

/// The one rule of which two caches of a module may share an inode, for `link`, `split`,
/// `stats` and `check` alike: each cache is given as (device, size, mode, owner), and
/// `same_bytes` is asked only when the rest allows a link. The owner is whatever the caller
/// has (uid and gid on disk, user and group names in a package header).
pub fn verdict<O: PartialEq>(
    a: (u64, u64, u32, O),
    b: (u64, u64, u32, O),
    same_bytes: impl FnOnce() -> Result<bool, Error>,
) -> Result<Verdict, Error> {
    let ((dev_a, size_a, mode_a, owner_a), (dev_b, size_b, mode_b, owner_b)) = (a, b);
    if dev_a != dev_b || size_a != size_b || !same_bytes()? {
        return Ok(Verdict::Different);
    }
    Ok(if mode_a == mode_b && owner_a == owner_b { Verdict::Linkable } else { Verdict::MetadataDiffers })
}

/// The links across layout groups in one module: pairs (home, sharer) where `sharer` shares
/// the stored copy of `home`, the lowest-level cache of that copy, and is in another layout
/// group. rpm would store such a set in full in each subpackage, so `link --layout` gives the
/// sharer an inode of its own and `split` warns about it. `caches` are (level, stored copy),
/// sorted by level; `None` is a copy known to have no other name. Levels the layout does not
/// name are left alone.
pub fn cross_group_links(caches: &[(&Level, Option<(u64, u64)>)], layout: &Layout) -> Vec<(usize, usize)> {
    let mut links = Vec::new();
    for (i, (level, stored)) in caches.iter().enumerate() {
        let (Some(group), Some(stored)) = (layout.group_of(level), stored) else { continue };
        // Sorted by level: the first holder of the copy decides its home group.
        let home = caches.iter().position(|(_, s)| s.as_ref() == Some(stored)).expect("i itself holds it");
        if layout.group_of(caches[home].0).is_some_and(|g| g != group) {
            links.push((home, i));
        }
    }
    links
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::link::classify::Level;
    use crate::link::group::Identity;

    /// A cache whose "content" is `content`, stored in inode `ino`.
    fn cache(level: Level, ino: u64, content: u8, nlink: u64) -> InspectedCache {
        InspectedCache {
            path: format!("m.{level}.{content}").into(),
            name: std::ffi::CString::new(format!("m.{level}.{content}")).unwrap(),
            level,
            id: Identity { dev: 1, ino, size: 10, mode: 0o644, uid: 0, gid: 0, mtime: (0, 0), ctime: (0, 0), nlink },
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

    /// The caches `plan_module` gives an inode of their own before linking.
    fn cross_group_sharers(caches: &[InspectedCache], layout: &Layout) -> Vec<usize> {
        plan_module(caches.to_vec(), layout, |_, _| Ok(true)).unwrap().separate
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
    fn a_dry_run_plan_links_as_if_the_separation_were_made() {
        use Level::*;
        // 0 and 1 are one inode (linked before), 2 has the same bytes; layout 0,12.
        let p = plan(vec![cache(Zero, 1, b'a', 2), cache(One, 1, b'a', 2), cache(Two, 2, b'a', 1)], "0,12");
        assert_eq!(p.separate, [1]);
        // 1 will be a file of its own, so 2 is linked to it and its only copy freed.
        assert_eq!((pairs(&p), p.already_linked, p.bytes_saved), (vec![(1, 2)], 0, 10));
    }

    #[test]
    fn oracle_errors_abandon_the_module() {
        let caches = vec![cache(Level::Zero, 1, b'a', 1), cache(Level::One, 2, b'a', 1)];
        let paths: Vec<std::path::PathBuf> = caches.iter().map(|c| c.path.clone()).collect();
        let r = plan_module(caches, &Layout::default(), |a, _| Err(Error::Changed(a.path.clone())));
        assert!(matches!(&r, Err(Error::Changed(p)) if paths.contains(p)), "{r:?}");
    }
}
