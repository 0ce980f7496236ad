"""The app's layout rules (docs/developer.md, Layout): every folder of the app is a package the
wheel ships, pages are named after their URL, app modules import each other by package, and
the options `goldenloop serve` sets equal the checkout's .streamlit/config.toml."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

from app_support import APP_DIR, page_path

from goldenloop import server
from goldenloop_app import host

ROOT = APP_DIR.parent
# Every top-level name a module of the app folder would have if the folder were on sys.path.
APP_NAMES = {p.stem for p in APP_DIR.glob("*.py")} | {p.name for p in APP_DIR.iterdir() if p.is_dir()}


def app_sources() -> list[Path]:
    return sorted(p for p in APP_DIR.rglob("*.py") if "__pycache__" not in p.parts)


def nav_pages() -> list[tuple[str, str | None]]:
    """(path, url_path) of every st.Page(...) in the entry's navigation."""
    tree = ast.parse((APP_DIR / "streamlit_app.py").read_text())
    pages = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "Page":
            url = next((k.value.value for k in node.keywords if k.arg == "url_path"), None)
            pages.append((node.args[0].value, url))
    return pages


def test_every_app_folder_with_modules_is_a_package() -> None:
    # setup.py lists the app's packages by their __init__.py: a folder without one would be
    # left out of the wheel while working from a checkout.
    folders = {p.parent for p in app_sources()}
    assert folders and all((f / "__init__.py").is_file() for f in folders), sorted(
        str(f) for f in folders if not (f / "__init__.py").is_file())


def test_pages_are_named_after_their_url_and_found_by_that_name() -> None:
    pages = nav_pages()
    assert len(pages) >= 17
    for path, url in pages:
        file = APP_DIR / path
        assert file.is_file(), path
        assert url is None or file.stem == url, (path, url)  # the default page has no url_path
        assert page_path(file.stem) == path


def test_app_modules_import_each_other_by_package() -> None:
    # A bare `import state` works only while Streamlit has put the app folder on sys.path, and
    # then loads a second copy of the module (and of its caches) beside goldenloop_app.state.
    bare = []
    for file in app_sources():
        for node in ast.walk(ast.parse(file.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            bare += [f"{file.relative_to(APP_DIR)}: {n}" for n in names if n.split(".")[0] in APP_NAMES]
    assert not bare, bare


def test_served_options_equal_the_checkout_config() -> None:
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    checkout = {f"{section}.{name}": value for section, options in config.items()
                for name, value in options.items()}
    served = host.flags("127.0.0.1", 8501)
    assert {k.replace(".", "_"): v for k, v in checkout.items()}.items() <= served.items()
    assert set(host.OPTIONS) <= set(checkout), set(host.OPTIONS) - set(checkout)


def test_the_server_finds_the_entry_of_the_installed_app_package() -> None:
    # From a checkout (an editable install) that is app/; from a wheel, site-packages
    # (tests/system/test_wheel_install.py).
    assert server.app_script() == APP_DIR / "streamlit_app.py"
