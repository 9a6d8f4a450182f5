//! The one-way flow of docs/design.md, checked on the source: no import cycle between the crate's
//! modules nor between its folders (the link engine, the split, the audit), and no library
//! module that imports the command line (`cli`) or the subcommands.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Module names (`link`, `audit::analysis`, ...) and the crate modules each one uses, read
/// from `crate::` and `super::` paths in code outside comments and `#[cfg(test)]`.
fn module_graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    let mut dirs = vec![src.clone()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    let name_of = |path: &Path| {
        let rel = path.strip_prefix(&src).unwrap().with_extension("");
        let parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into_owned()).filter(|p| p != "mod").collect();
        parts.join("::")
    };
    let modules: BTreeSet<String> = files.iter().map(|f| name_of(f)).collect();
    let mut graph = BTreeMap::new();
    for file in &files {
        let me = name_of(file);
        if me == "lib" || me == "main" {
            continue;
        }
        let text = std::fs::read_to_string(file).unwrap();
        // Code only: comments may name any module, and tests may use any helper.
        let code: String = text
            .split("#[cfg(test)]")
            .next()
            .unwrap()
            .lines()
            .filter(|line| !line.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        let parent: Vec<&str> = me.split("::").collect();
        let parent = parent[..parent.len() - 1].join("::");
        let mut uses = BTreeSet::new();
        for (prefix, base) in [("crate::", String::new()), ("super::", parent.clone())] {
            for (at, _) in code.match_indices(prefix) {
                let path: String = code[at + prefix.len()..]
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                    .collect();
                let mut parts: Vec<&str> = path.split("::").filter(|p| !p.is_empty()).collect();
                if !base.is_empty() {
                    parts.insert(0, &base);
                }
                // The longest prefix that names a module: `crate::audit::model::merge` is audit::model.
                let target = (1..=parts.len())
                    .rev()
                    .map(|n| parts[..n].join("::"))
                    .find(|m| modules.contains(m))
                    .or_else(|| matches!(parts.first(), Some(&"Error" | &"Result")).then(|| "error".to_string()));
                if let Some(target) = target.filter(|t| *t != me && !me.starts_with(&format!("{t}::"))) {
                    uses.insert(target);
                }
            }
        }
        graph.insert(me, uses);
    }
    graph
}

#[test]
fn no_library_module_imports_the_command_line() {
    let graph = module_graph();
    assert!(
        graph.contains_key("link") && graph.contains_key("link::walk") && graph.contains_key("split::pyproject"),
        "modules found: {graph:?}"
    );
    for (module, uses) in &graph {
        if module == "cli" || module == "commands" || module.starts_with("commands::") {
            continue;
        }
        let bad: Vec<_> = uses.iter().filter(|u| *u == "cli" || u.starts_with("commands")).collect();
        assert!(bad.is_empty(), "library module {module} imports {bad:?}");
    }
    let cli = &graph["cli"];
    assert!(!cli.iter().any(|u| u.starts_with("commands")), "cli imports the commands: {cli:?}");
}

/// The graph with each module folded into its top-level module (`link::walk` is `link`): the
/// folders of docs/design.md, each job one folder.
fn folder_graph() -> BTreeMap<String, BTreeSet<String>> {
    let top = |m: &str| m.split("::").next().unwrap().to_string();
    let mut folders: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (module, uses) in module_graph() {
        let entry = folders.entry(top(&module)).or_default();
        entry.extend(uses.iter().map(|u| top(u)).filter(|u| *u != top(&module)));
    }
    folders
}

#[test]
fn modules_import_each_other_one_way() {
    assert_acyclic(&module_graph());
}

/// The folders too: the engine (`link/`) imports neither the split nor the audit, and nothing
/// below a job imports the job. Checked on the folded graph, where a cycle through two files
/// of two folders shows even when no two modules import each other.
#[test]
fn folders_import_each_other_one_way() {
    let folders = folder_graph();
    for job in ["link", "split", "audit", "compile"] {
        assert!(folders.contains_key(job), "folders found: {folders:?}");
    }
    assert!(
        folders["link"].iter().all(|u| !["split", "audit", "compile"].contains(&u.as_str())),
        "{:?}",
        folders["link"]
    );
    assert_acyclic(&folders);
}

/// A cycle is found through nested modules as well as between top-level ones.
#[test]
fn a_cycle_is_found_at_any_depth() {
    let graph: BTreeMap<String, BTreeSet<String>> = [
        ("link::apply", vec!["link::classify", "error"]),
        ("link::classify", vec!["split::pyproject"]),
        ("split::pyproject", vec!["link::apply"]),
        ("error", vec![]),
    ]
    .into_iter()
    .map(|(m, uses)| (m.to_string(), uses.into_iter().map(String::from).collect()))
    .collect();
    let found = std::panic::catch_unwind(|| assert_acyclic(&graph));
    assert!(found.is_err(), "the cycle link::apply -> link::classify -> split::pyproject -> link::apply went unseen");
}

fn assert_acyclic(graph: &BTreeMap<String, BTreeSet<String>>) {
    // Depth-first search for a back edge; the path found is printed.
    fn visit<'a>(
        node: &'a str,
        graph: &'a BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<&'a str, bool>,
        stack: &mut Vec<&'a str>,
    ) -> Option<Vec<String>> {
        match state.get(node) {
            Some(true) => return None,
            Some(false) => {
                let from = stack.iter().position(|n| *n == node).unwrap();
                let mut cycle: Vec<String> = stack[from..].iter().map(|s| s.to_string()).collect();
                cycle.push(node.to_string());
                return Some(cycle);
            }
            None => {}
        }
        state.insert(node, false);
        stack.push(node);
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, state, stack) {
                return Some(cycle);
            }
        }
        stack.pop();
        state.insert(node, true);
        None
    }
    let mut state = BTreeMap::new();
    for module in graph.keys() {
        let cycle = visit(module, graph, &mut state, &mut Vec::new());
        assert!(cycle.is_none(), "import cycle: {}", cycle.unwrap().join(" -> "));
    }
}
