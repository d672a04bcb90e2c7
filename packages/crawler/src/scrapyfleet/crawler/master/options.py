"""crawl-master's command line, declared from the settings table (`defaults.TABLE`).

An option set on the command line or in the environment (`SCRAPYFLEET_CRAWL_MASTER_<OPTION>`)
becomes its Scrapy setting at command-line priority; an option not given sets nothing, so the
project's own setting applies, else the add-on's default (docs/architecture.md, "Configuration").
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from scrapyfleet.core.credentials import scrubbed
from scrapyfleet.core.files import PRIVATE, write_json_atomic
from scrapyfleet.core.options import EnvDefaults, parse_pairs, truthy
from scrapyfleet.crawler.defaults import TABLE, Setting
from scrapyfleet.crawler.master.ledger import LEDGER_NAME
from scrapyfleet.crawler.master.urlschema import file_problem

OPTIONS_NAME = "options.json"
ENV = EnvDefaults("crawl-master")
DEMO_SITE = {  # the built-in spiders' settings (the demo project's settings.py has the defaults)
    "--site": ("SITE_URL", str, "site to crawl"),
    "--index-pages": ("SITE_INDEX_PAGES", int, "index pages of the site (spaces the shards)"),
    "--shards": ("SHARDS", int, "index shards crawled at once"),
}
PATHS = ("config", "run_dir")


def _dest(option: str) -> str:
    return option.removeprefix("--").replace("-", "_")


def _add_setting(p: argparse.ArgumentParser, s: Setting) -> None:
    assert s.option is not None
    name = s.option.removeprefix("--")
    shown = '""' if s.default == "" else str(s.default).replace("%", "%%")
    where = s.name if s.default is None else f"{s.name}; default: the project's, else {shown}"
    help = f"{s.help} [{where}]"
    env = ENV(name)
    if s.kind is bool:
        default = truthy(env)
        p.add_argument(s.option, action=argparse.BooleanOptionalAction, default=default, help=help)
    elif s.name == "DISTRIBUTED_TARGET_HOSTS":
        p.add_argument(s.option, nargs="+", default=env.split() if env else None, help=help)
    else:
        p.add_argument(s.option, type=s.kind, choices=s.choices, default=env, help=help)


def parser() -> argparse.ArgumentParser:
    """Every option; a setting's defaults to None (not given) unless the environment has it."""
    p = argparse.ArgumentParser(
        prog="crawl-master",
        description="Run a whole distributed crawl of the Scrapy project in the working directory "
        "(its scrapy.cfg; the built-in demo project where there is none) over scrapyd nodes, and "
        "return when it is complete. Exit 0: every URL landed; 1: a run that did not (or "
        "diverted nothing); 2: refused before crawling (bad option, spider, target, node, feed).",
        epilog=ENV.epilog("batch-size"),
    )
    add = p.add_argument
    add("--spider", default=ENV("spider"), help="spider run by master and workers (default: "
        "the project's only spider; distr in the built-in project)")  # fmt: skip
    add("--config", type=Path, default=ENV("config"),
        help="scrapy.cfg with the deploy targets (default: the nearest one)")  # fmt: skip
    for setting in TABLE:
        if setting.option is not None:
            _add_setting(p, setting)
    add("--master-concurrency", type=int, default=ENV("master-concurrency"),
        help="CONCURRENT_REQUESTS (per domain too) of the master's own crawl (default: the "
        "project's)")  # fmt: skip
    add("--deploy", action=argparse.BooleanOptionalAction, default=ENV.flag("deploy"),
        help="build the project's egg and upload it to every node first (as scrapyd-deploy; the "
        "nodes need scrapyfleet installed)")  # fmt: skip
    add("--setting", action="append", default=[], metavar="NAME=VALUE",
        help="a Scrapy setting for the master and every worker (repeatable; no environment "
        "variable: a value may hold spaces; put it in the project's settings)")  # fmt: skip
    add("--resume", type=Path, metavar="RUN_DIR", default=None,
        help="continue an interrupted run from its ledger (its options are reused; no "
        "environment variable: it names one run, every later start would resume)")  # fmt: skip
    add("--progress", choices=["auto", "bar", "log", "off"], default=ENV("progress", "auto"),
        help="progress display (auto: a bar on a TTY, events otherwise)")  # fmt: skip
    add("--log-format", choices=["json", "console"], default=ENV("log-format"),
        help="log format (default: console on a TTY, JSON otherwise)")  # fmt: skip
    add("--log-level", default=ENV("log-level", "INFO"), help="log level (default: INFO)")
    demo = p.add_argument_group(
        "built-in demo spiders", "Only for the built-in project's spiders (distr, easy); a "
        "project's own spiders take their settings from the project.")  # fmt: skip
    for option, (name, kind, text) in DEMO_SITE.items():
        demo.add_argument(option, type=kind, default=ENV(option.removeprefix("--")),
                          help=f"{text} [{name}]")  # fmt: skip
    return p


def load_options(argv: list[str] | None) -> argparse.Namespace:
    """Parse; with --resume, the run's saved options fill in what is not given now."""
    p = parser()
    args = p.parse_args(argv)
    if args.resume is not None:
        saved = args.resume / OPTIONS_NAME
        if not saved.is_file():
            p.error(f"{saved} not found: is {args.resume} a crawl-master run directory?")
        for key, value in json.loads(saved.read_text(encoding="utf-8")).items():
            if getattr(args, key, None) in (None, [], False):
                setattr(args, key, Path(value) if key in PATHS and value else value)
        args.run_dir = args.resume
    run_dir = getattr(args, "run_dir", None)
    problem = file_problem(Path(run_dir) / LEDGER_NAME) if run_dir else None
    if problem is not None:  # another version's run: refused in one line, not misread
        p.error(problem)
    return args


def given_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The Scrapy settings of the options given (command line, environment, --setting)."""
    found: dict[str, Any] = {}
    for setting in TABLE:
        if setting.option is not None and getattr(args, _dest(setting.option)) is not None:
            found[setting.name] = getattr(args, _dest(setting.option))
    for option, (name, _, _) in DEMO_SITE.items():
        if getattr(args, _dest(option)) is not None:
            found[name] = getattr(args, _dest(option))
    if args.master_concurrency is not None:
        found["CONCURRENT_REQUESTS"] = found["CONCURRENT_REQUESTS_PER_DOMAIN"] = (
            args.master_concurrency
        )
    extra = parse_pairs(args.setting)
    if extra:
        found["DISTRIBUTED_WORKER_SETTINGS"] = extra
    return {**found, **extra}


def with_feed_password(uri: str) -> str:
    """The feed URI with the password from SCRAPYFLEET_CRAWL_MASTER_FEED_PASSWORD when it names a
    user but no password; ValueError when a user other than `anonymous` has none at all."""
    parts = urlsplit(uri)
    if parts.username is None or parts.password is not None:
        return uri
    password = ENV("feed-password")
    if password:
        netloc = f"{parts.username}:{quote(password, safe='')}@{parts.netloc.partition('@')[2]}"
        return parts._replace(netloc=netloc).geturl()
    if parts.username != "anonymous":
        raise ValueError(
            f"the feed URI's user {parts.username!r} needs a password: set "
            "SCRAPYFLEET_CRAWL_MASTER_FEED_PASSWORD (or put it in --feed-uri)"
        )
    return uri


def save_options(args: argparse.Namespace, run_dir: Path) -> None:
    """The options given, for `--resume`, without the feed password; the run directory is the
    user's alone (0700, files 0600)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    run_dir.chmod(0o700)
    stored = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
    for key in ("resume", "deploy"):
        stored.pop(key)
    stored["run_dir"] = str(run_dir)
    if stored.get("feed_uri"):
        stored["feed_uri"] = scrubbed(stored["feed_uri"], mask=None)
    write_json_atomic(run_dir / OPTIONS_NAME, stored, indent=2, mode=PRIVATE)
