"""The package's layout: no module imports, directly or through others, a module importing it.

Every import counts, also one inside a function: an import cycle hidden in a function still
ties the two modules together (neither can be understood, tested or changed alone). Importing
``a.b.c`` runs the ``__init__`` of ``a.b`` first, so it counts as importing that package too.
"""

import grimp


def import_cycles(package):
    """Each group of modules of ``package`` that import one another in a cycle (Tarjan)."""
    graph = grimp.build_graph(package, include_external_packages=False, cache_dir=None)
    imports = {
        module: {
            imported
            for target in graph.find_modules_directly_imported_by(module)
            for imported in (target, *packages_of(target))
            if imported not in (module, *packages_of(module))
        }
        for module in graph.modules
    }
    index, low, stack, on_stack, cycles = {}, {}, [], set(), []

    def visit(module):
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in imports[module]:
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            group = set()
            while not group or module not in group:
                group.add(stack.pop())
            on_stack.difference_update(group)
            if len(group) > 1:
                cycles.append(sorted(group))

    for module in sorted(imports):
        if module not in index:
            visit(module)
    return cycles


def packages_of(module):
    """The packages whose ``__init__`` runs before ``module``: ``a.b`` and ``a`` for ``a.b.c``."""
    parts = module.split(".")
    return tuple(".".join(parts[:end]) for end in range(len(parts) - 1, 0, -1))


def test_no_module_of_cdp_bridge_is_part_of_an_import_cycle():
    assert import_cycles("cdp_bridge") == []


def test_the_check_finds_a_cycle_through_a_function_level_import(tmp_path, monkeypatch):
    package = tmp_path / "tangled"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from tangled import b\n")
    (package / "b.py").write_text("def later():\n    from tangled import c\n")
    (package / "c.py").write_text("import tangled.a\n")
    (package / "d.py").write_text("import tangled.a\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert import_cycles("tangled") == [["tangled.a", "tangled.b", "tangled.c"]]


def test_the_check_finds_a_cycle_through_a_package_init(tmp_path, monkeypatch):
    package = tmp_path / "layered"
    (package / "low").mkdir(parents=True)
    (package / "high").mkdir()
    (package / "__init__.py").write_text("")
    (package / "low" / "__init__.py").write_text("from layered.low import rules\n")
    (package / "low" / "rules.py").write_text("import layered.high.leaf\n")
    (package / "high" / "__init__.py").write_text("from layered.high import api\n")
    (package / "high" / "api.py").write_text("import layered.low.kinds\n")
    (package / "high" / "leaf.py").write_text("")
    (package / "low" / "kinds.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    [cycle] = import_cycles("layered")
    assert {"layered.low.rules", "layered.high", "layered.high.api", "layered.low"} <= set(cycle)
