//! What the caches of an inventory take when its levels ship in other packages: the stored
//! copies that would remain, once the caches that could be linked inside each package are.

use rustc_hash::FxHashMap as HashMap;

use crate::link::classify::Level;

/// No node made yet for this (package, stored copy).
const NONE: usize = usize::MAX;

/// The caches of one inventory as the layouts see them, and the union-find [`packaged_bytes`]
/// reuses from one layout to the next.
///
/// [`packaged_bytes`]: LayoutSizes::packaged_bytes
pub struct LayoutSizes<'a> {
    /// Every cache, module after module.
    members: Vec<Member>,
    /// Where each module's caches are in `members`: `members[ends[m - 1]..ends[m]]`.
    ends: Vec<usize>,
    copy_size: &'a [u64],
    nodes: Nodes,
}

/// One cache.
struct Member {
    /// Its level as a number: 0, 1 and 2 for levels 0, 1 and 2, then one number per other
    /// `opt-` suffix. A layout maps these to packages.
    slot: u32,
    /// Its stored copy.
    copy: usize,
    /// The first (lowest-level) cache of its module that it could be linked to (an index into
    /// the module's caches).
    class: usize,
}

/// A union-find over (package, stored copy): linking joins two stored copies into one.
#[derive(Default)]
struct Nodes {
    /// The node of (package, copy) for packages 0, 1 and 2, at `package * copies + copy`: the
    /// packages every real layout has.
    low: Vec<usize>,
    /// The node of (package, copy) for the other packages (an `opt-` suffix of its own, in a
    /// layout that ships each level apart): rare, so hashed.
    high: HashMap<(u32, usize), usize>,
    /// The places of `low` that hold a node.
    made_low: Vec<usize>,
    parent: Vec<usize>,
    /// The stored copy of each node.
    copy: Vec<usize>,
}

impl<'a> LayoutSizes<'a> {
    /// `modules` holds the caches of each module (level, index into the files), lowest level
    /// first; `classes` each cache's class, module after module; `copy_of_file` the stored
    /// copy of each file and `copy_size` the size of each copy.
    pub fn new<'m>(
        modules: &[&'m [(Level, usize)]],
        classes: &[usize],
        copy_of_file: &[usize],
        copy_size: &'a [u64],
    ) -> LayoutSizes<'a> {
        let mut other_slots: HashMap<&[u8], u32> = HashMap::default();
        let mut slot_of = |level: &'m Level| match level {
            Level::Zero => 0,
            Level::One => 1,
            Level::Two => 2,
            Level::Other(suffix) => {
                let next = 3 + other_slots.len() as u32;
                *other_slots.entry(&**suffix).or_insert(next)
            }
        };
        let caches = modules.iter().flat_map(|caches| caches.iter());
        let members = caches.zip(classes).map(|((level, file), &class)| Member {
            slot: slot_of(level),
            copy: copy_of_file[*file],
            class,
        });
        let ends = modules.iter().scan(0, |end, m| {
            *end += m.len();
            Some(*end)
        });
        let nodes = Nodes { low: vec![NONE; 3 * copy_size.len()], ..Nodes::default() };
        LayoutSizes { members: members.collect(), ends: ends.collect(), copy_size, nodes }
    }

    /// The bytes the caches take when the levels that `package_of` maps to one package ship
    /// together (levels it maps to `None` are not shipped; packages are named by numbers below
    /// those of the levels they hold, so that 0, 1 and 2 are the common ones): inside a
    /// package, the caches of a module that could be linked are one stored copy, and a stored
    /// copy that several caches share (of one module or of several, as a tree linked by
    /// another tool has them) counts once.
    pub fn packaged_bytes(&mut self, package_of: &dyn Fn(u32) -> Option<u32>) -> u64 {
        let nodes = &mut self.nodes;
        nodes.clear();
        let mut start = 0;
        for &end in &self.ends {
            let module = &self.members[start..end];
            start = end;
            for member in module {
                let Some(package) = package_of(member.slot) else { continue };
                let node = nodes.node(package, member.copy);
                // The first cache of the class in this package is the one the others link to
                // (the member itself, when no lower level of its class ships with it).
                let first = module.iter().find(|m| m.class == member.class && package_of(m.slot) == Some(package));
                let first = nodes.node(package, first.map_or(member.copy, |m| m.copy));
                let (a, b) = (nodes.root(node), nodes.root(first));
                if a != b {
                    nodes.parent[a] = b;
                }
            }
        }
        // Each set of stored copies that would be one counts once, at the size of its root:
        // the copy of the first cache of its class. Copies that are linked have one size, but
        // for a package whose header gives the names of one copy different sizes, where the
        // copy takes its first name's size; the root makes that choice the same every time.
        let roots = (0..nodes.parent.len()).filter(|&n| nodes.parent[n] == n);
        roots.fold(0u64, |total, n| total.saturating_add(self.copy_size[nodes.copy[n]]))
    }
}

impl Nodes {
    /// Forgets every node, for the next layout; the buffers stay.
    fn clear(&mut self) {
        for at in self.made_low.drain(..) {
            self.low[at] = NONE;
        }
        self.high.clear();
        self.parent.clear();
        self.copy.clear();
    }

    /// The node of (package, copy), made when it is not there yet.
    fn node(&mut self, package: u32, copy: usize) -> usize {
        let next = self.parent.len();
        let copies = self.low.len() / 3;
        let node = if package < 3 {
            let at = package as usize * copies + copy;
            if self.low[at] == NONE {
                self.low[at] = next;
                self.made_low.push(at);
            }
            self.low[at]
        } else {
            *self.high.entry((package, copy)).or_insert(next)
        };
        if node == next {
            self.parent.push(node);
            self.copy.push(copy);
        }
        node
    }

    /// The root of `node`'s set, halving the path on the way.
    fn root(&mut self, mut node: usize) -> usize {
        while self.parent[node] != node {
            self.parent[node] = self.parent[self.parent[node]];
            node = self.parent[node];
        }
        node
    }
}
