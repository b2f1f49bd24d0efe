"""An out-of-band swap emulator: what a page shows after htmx swapped frames into it.

It follows the swaps the kit's frames use (``innerHTML``, ``outerHTML``,
``beforeend:#id``, ``afterbegin:#id``), on a tree parsed with the standard library.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html import escape
from html.parser import HTMLParser

VOID = frozenset({"br", "hr", "img", "input", "meta", "link", "source", "wbr"})


@dataclass
class Node:
    tag: str
    attrs: dict[str, str | None] = field(default_factory=dict)
    children: list[Node | str] = field(default_factory=list)

    def html(self) -> str:
        attrs = "".join(
            f" {k}" if v is None else f' {k}="{escape(v, quote=True)}"'
            for k, v in self.attrs.items()
        )
        if self.tag in VOID:
            return f"<{self.tag}{attrs}>"
        return f"<{self.tag}{attrs}>{self.inner()}</{self.tag}>"

    def inner(self) -> str:
        return "".join(
            c.html() if isinstance(c, Node) else escape(c, quote=False) for c in self.children
        )

    def text(self) -> str:
        return "".join(c.text() if isinstance(c, Node) else c for c in self.children)


class _Builder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#root")
        self.stack = [self.root]

    def handle_starttag(self, tag, attrs):
        node = Node(tag, dict(attrs))
        self.stack[-1].children.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_startendtag(self, tag, attrs):
        self.stack[-1].children.append(Node(tag, dict(attrs)))

    def handle_endtag(self, tag):
        for depth in range(len(self.stack) - 1, 0, -1):
            if self.stack[depth].tag == tag:
                del self.stack[depth:]
                return

    def handle_data(self, data):
        self.stack[-1].children.append(data)


def parse(html: str) -> list[Node | str]:
    builder = _Builder()
    builder.feed(html)
    builder.close()
    return builder.root.children


class Page:
    """A page's body: swap frames into it, then read its elements."""

    def __init__(self, html: str) -> None:
        self.body = Node("body", children=parse(html))

    def find(self, dom_id: str) -> Node | None:
        return self._find(self.body, dom_id)[0]

    def _find(self, node: Node, dom_id: str) -> tuple[Node | None, Node | None]:
        for child in node.children:
            if isinstance(child, Node):
                if child.attrs.get("id") == dom_id:
                    return child, node
                found = self._find(child, dom_id)
                if found[0] is not None:
                    return found
        return None, None

    def apply(self, frame: str) -> None:
        for node in parse(frame):
            if not isinstance(node, Node) or "hx-swap-oob" not in node.attrs:
                continue
            swap = node.attrs.pop("hx-swap-oob") or "outerHTML"
            style, _, selector = swap.partition(":")
            target_id = selector.removeprefix("#") if selector else node.attrs.get("id")
            target, parent = self._find(self.body, str(target_id))
            if target is None or parent is None:
                continue  # htmx ignores an out-of-band element without a target
            if style == "innerHTML":
                target.children = node.children
            elif style == "outerHTML":
                parent.children[parent.children.index(target)] = node
            elif style == "beforeend":
                target.children.extend(node.children)
            elif style == "afterbegin":
                target.children[0:0] = node.children
            else:
                raise ValueError(f"unknown swap {swap!r}")

    def inner(self, dom_id: str) -> str:
        node = self.find(dom_id)
        return "" if node is None else node.inner()
