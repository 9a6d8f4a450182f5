//! The one-way flow of the README, checked on the source: no import cycle between the crate's
//! modules, and no library module that imports the command line (`cli`) or the subcommands.

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
                let path: String =
                    code[at + prefix.len()..].chars().take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':').collect();
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
    assert!(graph.contains_key("link") && graph.contains_key("commands::link"), "modules found: {graph:?}");
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

#[test]
fn modules_import_each_other_one_way() {
    let graph = module_graph();
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
        let cycle = visit(module, &graph, &mut state, &mut Vec::new());
        assert!(cycle.is_none(), "import cycle: {}", cycle.unwrap().join(" -> "));
    }
}
