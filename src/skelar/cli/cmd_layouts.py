"""``skelar layouts [LAYOUT]``: list the registered joint layouts, or validate and show one (name, file or dataset folder)."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "layouts",
        help="list joint layouts, or check and show one",
        description="Without LAYOUT: the registered layouts. With LAYOUT (a registered name, a layout YAML file, or a "
                    "prepared or plain-format dataset folder): validate it and print its joints, parents and roles.",
    )
    p.add_argument("layout", nargs="?", metavar="LAYOUT")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from skelar.layouts import get_layout, list_layouts
    from skelar.preprocess.layout_arg import resolve_layout_arg

    if not args.layout:
        for name in list_layouts():
            lay = get_layout(name)
            print(f"{name:<12} {lay.num_joints:>3} joints  {lay.description}")
        return 0
    lay = resolve_layout_arg(args.layout)
    print(f"layout {lay.name}: {lay.num_joints} joints{' - ' + lay.description if lay.description else ''}")
    print(f"centre {lay.names[lay.center]}; root {', '.join(lay.names[r] for r in lay.roots)}"
          + (f"; coordinates {lay.coordinates.to_dict()}" if lay.coordinates.to_dict() else ""))
    width = max(len(n) for n in lay.names)
    for v, (name, parent) in enumerate(zip(lay.names, lay.parents)):
        print(f"  {v:>3} {name:<{width}}  parent {lay.names[parent] if parent != v else '(root)'}")
    if lay.left_right:
        print("left/right: " + ", ".join(f"{lay.names[a]}-{lay.names[b]}" for a, b in lay.left_right))
    if lay.extra_edges:
        print("extra edges: " + ", ".join(f"{lay.names[a]}-{lay.names[b]}" for a, b in lay.extra_edges))
    return 0
