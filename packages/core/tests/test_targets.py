"""Target resolution from scrapy.cfg: names, globs, explicit URLs, errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from scrapyfleet.core.targets import (
    Target,
    TargetConfigError,
    UnknownTargetError,
    default_project,
    find_config,
    load_targets,
    resolve_targets,
)

CFG = """\
[settings]
default = properties.settings

[deploy]
project = properties

[deploy:scrapyd1]
url = http://127.0.0.1:6801/

[deploy:scrapyd2]
url = http://127.0.0.1:6802
username = ops
password = s3cr%t
slots = 4

[deploy:scrapyd10]
url = http://127.0.0.1:6810
project = other

[deploy:staging]
url = https://staging.example:443/scrapyd/
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "scrapy.cfg"
    path.write_text(CFG)
    return path


def test_find_config_walks_upward(config: Path) -> None:
    deep = config.parent / "a" / "b"
    deep.mkdir(parents=True)
    assert find_config(deep) == config
    assert find_config(config.parent) == config


def test_find_config_none_without_file(tmp_path: Path) -> None:
    # tmp_path's ancestors (/tmp, /) hold no scrapy.cfg on a sane machine
    assert find_config(tmp_path) is None


def test_load_targets_reads_every_deploy_section(config: Path) -> None:
    targets = load_targets(config)
    assert list(targets) == ["scrapyd1", "scrapyd2", "scrapyd10", "staging"]
    assert targets["scrapyd1"] == Target("scrapyd1", "http://127.0.0.1:6801", project="properties")
    assert targets["scrapyd2"] == Target(
        "scrapyd2", "http://127.0.0.1:6802", "ops", "s3cr%t", "properties", 4
    )
    assert targets["scrapyd10"].project == "other"
    assert targets["staging"].url == "https://staging.example:443/scrapyd"


def test_bare_deploy_with_url_is_default(tmp_path: Path) -> None:
    path = tmp_path / "scrapy.cfg"
    path.write_text("[deploy]\nurl = http://localhost:6800/\nproject = p\n")
    assert load_targets(path) == {
        "default": Target("default", "http://localhost:6800", project="p")
    }
    assert default_project(path) == "p"


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ("[deploy:x]\nproject = p\n", "has no url"),
        ("[deploy:x]\nurl = http://h\nslots = two\n", "slots"),
    ],
)
def test_bad_deploy_section_is_a_clear_error(tmp_path: Path, section: str, message: str) -> None:
    path = tmp_path / "scrapy.cfg"
    path.write_text(section)
    with pytest.raises(TargetConfigError, match=message):
        load_targets(path)


def test_default_project(config: Path, tmp_path: Path) -> None:
    assert default_project(config) == "properties"
    assert default_project(None) is None
    only_named = tmp_path / "other.cfg"
    only_named.write_text("[deploy:a]\nurl = http://h\n[deploy:b]\nurl = http://i\nproject = q\n")
    assert default_project(only_named) == "q"


def test_glob_keeps_file_order(config: Path) -> None:
    names = [t.name for t in resolve_targets(["scrapyd*"], config)]
    assert names == ["scrapyd1", "scrapyd2", "scrapyd10"]
    assert [t.name for t in resolve_targets(["scrapyd?"], config)] == ["scrapyd1", "scrapyd2"]
    assert [t.name for t in resolve_targets(["scrapyd[2-9]"], config)] == ["scrapyd2"]


def test_shell_expanded_words_keep_order_and_drop_duplicates(config: Path) -> None:
    specs = ["scrapyd2", "scrapyd1", "scrapyd*", "http://127.0.0.1:6801"]
    assert [t.name for t in resolve_targets(specs, config)] == ["scrapyd2", "scrapyd1", "scrapyd10"]


def test_explicit_url_with_credentials() -> None:
    [target] = resolve_targets(["http://ops:p%40ss@127.0.0.1:6805/"], None)
    assert target == Target("127.0.0.1:6805", "http://127.0.0.1:6805", "ops", "p@ss")
    [plain] = resolve_targets(["https://node.example/api"], None)
    assert plain == Target("node.example:443", "https://node.example/api")


def test_host_port_as_in_the_book(config: Path) -> None:
    """`DISTRIBUTED_TARGET_HOSTS = ["scrapyd1:6800", ...]`: a node at http://HOST:PORT."""
    [target] = resolve_targets(["node7:6800"], config)
    assert target == Target("node7:6800", "http://node7:6800")
    assert [t.name for t in resolve_targets(["scrapyd1", "10.0.0.2:6800"], config)] == [
        "scrapyd1",
        "10.0.0.2:6800",
    ]
    with pytest.raises(UnknownTargetError):
        resolve_targets(["node7:port"], config)


def test_unknown_name_lists_known_targets(config: Path) -> None:
    with pytest.raises(UnknownTargetError) as caught:
        resolve_targets(["scrapyd1", "nosuch*"], config)
    assert caught.value.spec == "nosuch*"
    assert caught.value.known == ["scrapyd1", "scrapyd10", "scrapyd2", "staging"]
    assert "scrapyd10" in str(caught.value)


def test_name_without_config_is_unknown() -> None:
    with pytest.raises(UnknownTargetError) as caught:
        resolve_targets(["scrapyd1"], None)
    assert caught.value.known == []
