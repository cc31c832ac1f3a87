"""The ``kenolib`` command line (see CONTRACTS.md).

Exit status 0 on success, 2 on a user error (one line on stderr, no traceback).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path

from tqdm.std import tqdm  # bars on a terminal only; tqdm.auto warns without ipywidgets

from kenolib import __version__, config
from kenolib.classify import evaluate, format_evaluation
from kenolib.classify import training as TR
from kenolib.classify.embedding import build_word_vectors, load_word_vectors
from kenolib.classify.labels import format_accuracy
from kenolib.classify.parallel import check_workers
from kenolib.classify.training import CALIBRATION_SET, TRAINING_SETS, calibrate, train
from kenolib.coverage import coverage_matrix, policy_findings
from kenolib.dask_engine import dask_crossref
from kenolib.diff import change_counts, diff_policies
from kenolib.errors import KenolibError, escape_control
from kenolib.feedback import crossref_with_labels, learn, write_review
from kenolib.files import check_fits_excel, check_output_path, write_frame
from kenolib.filters import TicketFilter, filter_frame
from kenolib.impact import verdict_impact
from kenolib.policy import format_outline, parse_policy
from kenolib.report import write_reports
from kenolib.schemas import EFFORT_UNITS
from kenolib.stream import stream_crossref
from kenolib.synth import synth_tickets
from kenolib.tickets import load_helpdesks, load_tickets


def _warn(messages: Sequence[str]) -> None:
    for m in messages:
        print(f"kenolib: warning: {escape_control(m)}", file=sys.stderr)


def _parsed(policy: str | None, out: str | None = None):
    """Parse the policy (after checking ``out`` so a bad output path fails before any work)."""
    if out is not None:
        check_output_path(out, (policy,))
    parsed = parse_policy(policy)
    _warn(parsed.warnings)
    return parsed


def _policy_table(args: argparse.Namespace, what: str) -> int:
    """Write one table derived from the policy: ``clauses``, ``coverage`` or ``findings``."""
    parsed = _parsed(args.policy, args.out)
    frame = {
        "clauses": lambda c: c,
        "coverage": coverage_matrix,
        "findings": policy_findings,
    }[what](parsed.clauses)
    out = write_frame(frame, args.out, inputs=(args.policy,), sheet_name=what.title())
    print(f"wrote {len(frame)} {what} rows to {out}")
    return 0


def cmd_clauses(args: argparse.Namespace) -> int:
    return _policy_table(args, "clauses")


def cmd_coverage(args: argparse.Namespace) -> int:
    return _policy_table(args, "coverage")


def cmd_findings(args: argparse.Namespace) -> int:
    return _policy_table(args, "findings")


def cmd_outline(args: argparse.Namespace) -> int:
    """Print the structure found in the policy (products, labels, item counts, warnings)."""
    print(format_outline(parse_policy(args.policy)))
    return 0


def _day(text: str) -> date:
    """A --since/--until day (YYYY-MM-DD), or a one-line error."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a day; write YYYY-MM-DD") from None


def _ticket_filter(args: argparse.Namespace) -> TicketFilter | None:
    """--product/--group/--assignee as a filter (None when none is given)."""
    f = TicketFilter(tuple(args.product or ()), tuple(args.group or ()), tuple(args.assignee or ()))
    return f if f else None


def _effort(args: argparse.Namespace) -> tuple[str, str] | None:
    """--effort-column/--effort-unit as (column, unit), or None for the format's own."""
    if args.effort_column is None:
        if args.effort_unit is not None:
            raise KenolibError("--effort-unit needs --effort-column NAME (the column it reads)")
        return None
    return args.effort_column, args.effort_unit or "minutes"


def cmd_report(args: argparse.Namespace) -> int:

    if args.format != "auto" and args.tickets is None:
        raise KenolibError("--format needs --tickets T (the ticket export it describes)")
    if args.judged is not None and args.tickets is not None:
        raise KenolibError("--judged and --tickets: give one ticket history, not both")
    if args.judged is not None and args.effort_column is not None:
        raise KenolibError("--effort-column applies when judging; give it to kenolib crossref")
    if args.repeat_requesters < 1:
        raise KenolibError("--repeat-requesters: give a number of tickets of 1 or more")
    written = write_reports(
        policy=args.policy,
        tickets=args.tickets,
        fmt=args.format,
        out_dir=args.out_dir,
        hourly_rate=args.hourly_rate,
        baseline=args.baseline,
        progress=True,
        on_warning=lambda w: _warn([w]),
        labels=args.labels,
        judged=args.judged,
        since=args.since,
        until=args.until,
        currency=args.currency or "",
        ticket_filter=_ticket_filter(args),
        effort=_effort(args),
        repeat_min=args.repeat_requesters,
    )
    print("wrote " + ", ".join(str(p) for p in written))
    return 0


def cmd_diff(args: argparse.Namespace) -> int:

    inputs = (args.old, args.new, args.tickets)
    if args.format != "auto" and args.tickets is None:
        raise KenolibError("--format needs --tickets T (the ticket export it describes)")
    check_output_path(args.out, inputs)
    if args.impact_out is not None:
        if args.tickets is None:
            raise KenolibError("--impact-out needs --tickets T (the ticket history to judge)")
        check_output_path(args.impact_out, inputs)
        if Path(args.impact_out).resolve() == Path(args.out).resolve():
            raise KenolibError(f"{args.impact_out}: --impact-out must differ from --out")
    old, new = _parsed(args.old), _parsed(args.new)
    diff = diff_policies(old, new)
    counts = change_counts(diff)
    summary = ", ".join(f"{v} {k}" for k, v in counts.items())
    impact_line = None
    if args.tickets is not None:
        tickets = load_tickets(args.tickets, fmt=args.format)
        impact = verdict_impact(tickets, old, new)
        moved = impact["direction"].value_counts()
        hours = impact["agent_minutes"].sum() / 60.0
        impact_line = (
            f"{len(impact)} of {len(tickets)} tickets change verdict or clause "
            f"({int(moved.get('into_scope', 0))} into scope, "
            f"{int(moved.get('out_of_scope', 0))} out of scope, "
            f"{int(moved.get('other', 0))} other; {hours:.1f} agent hours)"
        )
        if args.impact_out is not None:
            written = write_frame(impact, args.impact_out, inputs, "Impact")
            impact_line += f"; wrote {written}"
    out = write_frame(diff, args.out, inputs, "Policy changes")
    if impact_line:
        print(impact_line)
    print(f"{len(diff)} change{'' if len(diff) == 1 else 's'} ({summary}); wrote {out}")
    return 0


def _progress_bar(total: int | None, desc: str):
    """A tqdm bar on a terminal only (stderr), else a no-op."""
    return tqdm(total=total, desc=desc, unit="tickets", disable=not sys.stderr.isatty())


def _crossref_with_labels(args: argparse.Namespace, parsed) -> int:
    """crossref --labels: the history is judged in memory with the analyst's decisions."""
    if args.partition is not None:
        raise KenolibError("--labels writes one file; drop --partition")
    tickets = load_tickets(
        args.tickets, fmt=args.format, quarantine=args.quarantine, effort=_effort(args)
    )
    _warn(tickets.attrs.get("warnings", []))
    check_fits_excel(args.out, len(tickets), "write .parquet or .csv instead")
    with _progress_bar(len(tickets), "classifying") as bar:
        xref = crossref_with_labels(
            tickets, parsed, args.labels, progress=bar.update, workers=args.workers
        )
    summary_filter = _ticket_filter(args)
    shown = filter_frame(xref, summary_filter)
    out = write_frame(xref, args.out, inputs=(args.tickets, args.policy), sheet_name="Crossref")
    scope = summary_filter.describe(shown) if summary_filter else ""
    _print_judged(len(shown), shown["verdict"].value_counts(), out, scope, len(xref))
    return 0


def _print_judged(rows: int, counts, out: object, scope: str = "", written: int = 0) -> None:
    """A crossref run's last lines: verdict counts (of ``scope`` if filtered), file written."""
    if scope:
        print(f"{escape_control(scope)}:", end=" ")
    print(
        f"{rows} tickets: {int(counts.get('supported', 0))} supported, "
        f"{int(counts.get('not_supported', 0))} not supported, "
        f"{int(counts.get('silent', 0))} silent"
    )
    print(f"wrote {out}" + (f" (all {written} tickets)" if scope else ""))


def cmd_crossref(args: argparse.Namespace) -> int:

    if args.partition is None:
        check_output_path(args.out, (args.tickets, args.policy))
    if args.quarantine and Path(args.quarantine).resolve() == Path(args.out).resolve():
        raise KenolibError(f"{args.quarantine}: --quarantine must differ from --out")
    if args.scheduler and args.engine != "dask":
        raise KenolibError("--scheduler needs --engine dask")
    check_workers(args.workers)
    if args.workers is not None and args.engine == "dask":
        raise KenolibError("--workers is for --engine local; a Dask cluster has its own workers")
    parsed = _parsed(args.policy)
    if args.labels is not None:  # the analyst's labels: judged in memory
        if args.engine == "dask":
            raise KenolibError("--labels works with the local engine only; drop --engine dask")
        return _crossref_with_labels(args, parsed)
    summary_filter = _ticket_filter(args)
    run_args = dict(
        fmt=args.format, quarantine=args.quarantine, partition=args.partition,
        inputs=(args.policy,), effort=_effort(args), summary_filter=summary_filter,
    )  # fmt: skip
    with _progress_bar(None, "classifying") as bar:
        if args.engine == "dask":
            run = dask_crossref(
                args.tickets, args.out, parsed.clauses, scheduler=args.scheduler,
                progress=bar.update, **run_args,
            )  # fmt: skip
        else:
            run = stream_crossref(
                args.tickets, args.out, parsed.clauses, progress=bar.update,
                workers=args.workers, **run_args,
            )  # fmt: skip
    _warn(run.warnings)
    scope = summary_filter.describe() if summary_filter else ""
    _print_judged(run.kept if scope else run.rows, run.verdicts, run.out, scope, run.rows)
    return 0


def cmd_review(args: argparse.Namespace) -> int:

    check_output_path(args.out, (args.tickets, args.policy), suffixes=(".xlsx",))
    parsed = _parsed(args.policy)
    tickets = load_tickets(args.tickets, fmt=args.format)
    _warn(tickets.attrs.get("warnings", []))
    rows = write_review(tickets, parsed, args.out, args.n, args.seed, args.labels, (args.tickets,))
    parts = rows["sample_part"].value_counts()
    print(
        f"{len(rows)} tickets to review ({', '.join(f'{int(v)} {k}' for k, v in parts.items())}); "
        f"wrote {args.out}; fill it in, then run `kenolib learn {args.out}`"
    )
    return 0


def cmd_learn(args: argparse.Namespace) -> int:

    res = learn(args.workbook, args.labels, _parsed(args.policy))
    c = res.counts
    print(
        f"{res.reviewed} reviewed tickets ({res.corrected} corrected): {c['added']} added, "
        f"{c['replaced']} replaced, {c['unchanged']} already in the store; wrote {res.store}"
    )
    if res.model is not None:
        print(f"retrained the model with the labels: {res.model}")
    if res.accuracy is not None:
        print(format_accuracy(res.accuracy))
        for product, f in res.accuracy["per_product"].items():
            print(
                f"  {product}: {100 * f['accuracy']:.0f} % of {f['tickets']} "
                f"({100 * f['low']:.0f}–{100 * f['high']:.0f} %)"
            )
    return 0


def cmd_synth(args: argparse.Namespace) -> int:

    check_output_path(args.out)
    check_fits_excel(args.out, args.n)
    df = synth_tickets(args.n, seed=args.seed)
    out = write_frame(df, args.out, sheet_name="Tickets")
    print(f"wrote {len(df)} synthetic tickets (seed {args.seed}) to {out}")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:

    parsed = _parsed(args.policy)
    if args.ledger:  # an arrival is measured once: refused before judging
        TR.check_new_arrival(Path(args.labelled).name, args.ledger)
    labelled = load_tickets(args.labelled, fmt=args.format)
    _warn(labelled.attrs.get("warnings", []))
    ev = evaluate(labelled, parsed.clauses)
    text = format_evaluation(ev, source=args.labelled, mistakes=args.mistakes)
    print("\n".join(escape_control(line) for line in text.splitlines()))  # ids, subjects: input
    if args.ledger:
        a = args
        print(TR.record_arrival(labelled, a.labelled, parsed.clauses, a.ledger, a.judged_with))
    return 0


def cmd_train(args: argparse.Namespace) -> int:

    if args.word_vectors:
        path = build_word_vectors()
        wv = load_word_vectors(path)
        print(f"wrote {path}: {len(wv.words)} words x {wv.vectors.shape[1]} dimensions")
    model, out, fig = train(args.labelled or TRAINING_SETS)
    print(
        f"trained on {int(fig['tickets'])} labelled tickets, {len(model.terms)} terms, "
        f"{len(model.topics)} topics; 5-fold topic accuracy of the model alone "
        f"{100 * fig['cv_topic_accuracy']:.1f} % (real questions "
        f"{100 * fig['cv_topic_accuracy_real']:.1f} %)"
    )
    print(f"wrote {out}; run `kenolib calibrate` next")
    return 0


def cmd_calibrate(args: argparse.Namespace) -> int:

    table, below, out = calibrate(args.labelled or CALIBRATION_SET, target=args.target)
    print(table.to_string(index=False))
    print(f"needs_review below confidence {below} ({100 * args.target:.0f} % precision above)")
    print(f"{TR.describe_confidence_model(out)}\nwrote {out}")
    return 0


def _labels_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--labels",
        nargs="?",
        const=str(config.LABELS_DIR),
        default=None,
        metavar="DIR",
        help=f"use the analyst's labels store (alone: {config.LABELS_DIR})",
    )


def _filter_args(p: argparse.ArgumentParser, what: str) -> None:
    """--product, --group, --assignee (each repeatable)."""
    p.add_argument(
        "--product", action="append", metavar="ID|LABEL", help=f"{what}: this product (repeatable)"
    )
    p.add_argument(
        "--group",
        action="append",
        metavar="TEAM",
        help=f"{what}: tickets of this team or queue (the export's group column; repeatable)",
    )
    p.add_argument(
        "--assignee", action="append", metavar="AGENT", help=f"{what}: this agent (repeatable)"
    )


def _effort_args(p: argparse.ArgumentParser) -> None:
    """--effort-column, --effort-unit: where agent time is read from."""
    p.add_argument(
        "--effort-column",
        default=None,
        metavar="NAME",
        help="the export's column of agent time spent (default: the format's time-tracking "
        "column; never a resolution or wait time)",
    )
    p.add_argument(
        "--effort-unit",
        choices=EFFORT_UNITS,
        default=None,
        help="unit of --effort-column (default minutes; hhmm = h:mm)",
    )


def _review_parsers(sub, format_arg: Callable, policy_arg: Callable) -> None:
    """The review loop's sub-commands: ``review`` and ``learn``."""
    p = sub.add_parser("review", help="write a review workbook: judged tickets worth checking")
    p.add_argument("tickets", help="ticket export (.csv, .xlsx or .parquet)")
    format_arg(p)
    policy_arg(p)
    _labels_arg(p)
    p.add_argument("--out", required=True, help="the review workbook (.xlsx)")
    p.add_argument("--n", type=int, default=200, help="tickets in the sample (default 200)")
    p.add_argument("--seed", type=int, default=0, help="random seed of the sample")
    p.set_defaults(func=cmd_review)

    p = sub.add_parser("learn", help="add a filled review workbook to the labels store")
    p.add_argument("workbook", help="the review workbook, filled in")
    policy_arg(p)
    p.add_argument(
        "--labels",
        default=str(config.LABELS_DIR),
        help=f"labels directory (default {config.LABELS_DIR})",
    )
    p.set_defaults(func=cmd_learn)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with one sub-command per CONTRACTS command."""
    parser = argparse.ArgumentParser(
        prog="kenolib",
        description="Kenotronix support policy as data: clauses, coverage, tickets and reports.",
    )
    parser.add_argument("--version", action="version", version=f"kenolib {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _policy_commands(sub)
    _ticket_commands(sub)
    _model_commands(sub)
    return parser


def format_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--format",
        default="auto",
        choices=["auto", *load_helpdesks()],
        help="ticket export format: auto (from the header), or one of "
        + ", ".join(load_helpdesks()),
    )


def policy_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--policy",
        default=None,
        help="policy file: .txt, .md, .html/.htm or .docx (default: the embedded policy)",
    )


def _policy_commands(sub) -> None:
    """clauses, coverage, findings, outline, report, diff."""
    p = sub.add_parser("clauses", help="write the clause table (.csv, .xlsx or .parquet)")
    policy_arg(p)
    p.add_argument("--out", required=True, help="output file; the extension picks the format")
    p.set_defaults(func=cmd_clauses)

    p = sub.add_parser("coverage", help="write the topic × product coverage matrix in long form")
    policy_arg(p)
    p.add_argument("--out", required=True, help="output file; the extension picks the format")
    p.set_defaults(func=cmd_coverage)

    p = sub.add_parser("findings", help="write contradictions, sibling gaps and silent cells")
    policy_arg(p)
    p.add_argument("--out", required=True, help="output file; the extension picks the format")
    p.set_defaults(func=cmd_findings)

    p = sub.add_parser(
        "outline", help="print the structure found in a policy (products, labels, warnings)"
    )
    policy_arg(p)
    p.set_defaults(func=cmd_outline)

    p = sub.add_parser(
        "report", help="write the Excel workbook and the offline HTML report (policy + tickets)"
    )
    policy_arg(p)
    p.add_argument(
        "--tickets", default=None, help="ticket export (default: the bundled sample history)"
    )
    format_arg(p)
    p.add_argument("--out-dir", default=str(config.REPORTS_DIR), help="directory for the reports")
    p.add_argument(
        "--hourly-rate", type=float, default=None, help="cost of an agent hour, for the Summary"
    )
    p.add_argument(
        "--baseline", default=None, help="an older policy: adds a Policy changes sheet and section"
    )
    _labels_arg(p)
    p.add_argument(
        "--judged", default=None, help="a judged file or dataset (kenolib crossref output)"
    )
    p.add_argument("--since", type=_day, default=None, help="first ticket day kept (YYYY-MM-DD)")
    p.add_argument("--until", type=_day, default=None, help="last ticket day kept (YYYY-MM-DD)")
    p.add_argument(
        "--currency", default=None, help="currency of costs, e.g. EUR (default: the theme's)"
    )
    _filter_args(p, "keep only")
    _effort_args(p)
    p.add_argument(
        "--repeat-requesters",
        type=int,
        default=config.REPEAT_REQUESTER_TICKETS,
        metavar="N",
        help=f"list requesters with at least N tickets (default {config.REPEAT_REQUESTER_TICKETS})",
    )
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("diff", help="write what changed between two versions of a policy")
    p.add_argument("old", help="the old policy text file")
    p.add_argument("new", help="the new policy text file")
    p.add_argument("--out", required=True, help="output file; the extension picks the format")
    p.add_argument(
        "--tickets", default=None, help="ticket history: also judge which tickets change verdict"
    )
    format_arg(p)
    p.add_argument("--impact-out", default=None, help="file for the per-ticket impact table")
    p.set_defaults(func=cmd_diff)


def _ticket_commands(sub) -> None:
    """crossref, synth, evaluate."""
    p = sub.add_parser("crossref", help="judge every ticket against the policy, citing the clause")
    p.add_argument(
        "tickets",
        help="ticket export (.csv, .csv.gz, .xlsx or .parquet), or a directory or glob of them",
    )
    format_arg(p)
    policy_arg(p)
    _labels_arg(p)
    p.add_argument(
        "--out", required=True, help="output file (the extension picks the format) or directory"
    )
    p.add_argument(
        "--quarantine", default=None, help="file for malformed CSV rows, set aside and counted"
    )
    p.add_argument(
        "--partition", choices=["month"], default=None, help="write a Parquet dataset by month"
    )
    p.add_argument("--engine", choices=["local", "dask"], default="local", help="where to judge")
    p.add_argument(
        "--scheduler", default=None, help="address of a running Dask scheduler (--engine dask)"
    )
    _filter_args(p, "count in the printed summary only (the output keeps every input row)")
    _effort_args(p)
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        help="processes judging batches (default: one per usable core; 1: no extra process)",
    )
    p.set_defaults(func=cmd_crossref)

    _review_parsers(sub, format_arg, policy_arg)

    p = sub.add_parser("synth", help="write a reproducible synthetic ticket history")
    p.add_argument("--n", type=int, required=True, help="number of tickets")
    p.add_argument("--seed", type=int, default=0, help="random seed (same n and seed, same file)")
    p.add_argument("--out", required=True, help="output file; the extension picks the format")
    p.set_defaults(func=cmd_synth)

    p = sub.add_parser(
        "evaluate", help="measure crossref on labelled tickets (expected_verdict, expected_topic)"
    )
    p.add_argument("labelled", help="labelled tickets (generic columns + expected_*)")
    format_arg(p)
    policy_arg(p)
    p.add_argument("--mistakes", type=int, default=15, help="how many mistakes to list")
    p.add_argument("--ledger", help="record the verdicts in this arrival ledger (once per set)")
    p.add_argument("--judged-with", default="", help="with --ledger: the classifier's commit")
    p.set_defaults(func=cmd_evaluate)


def _model_commands(sub) -> None:
    """train, calibrate: fit the classifier's learned parts on the labelled sets."""
    p = sub.add_parser("train", help="fit the classifier's learned component on labelled sets")
    p.add_argument("labelled", nargs="*", help="labelled sets (default: the project's own)")
    p.add_argument(
        "--word-vectors",
        action="store_true",
        help="first rebuild the static word vectors with WordLlama (needs the dev extra)",
    )
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("calibrate", help="fit the confidence table and the needs_review threshold")
    p.add_argument("labelled", nargs="?", help="calibration set (default labelled_holdout.csv)")
    p.add_argument("--target", type=float, default=0.9, help="precision above the threshold")
    p.set_defaults(func=cmd_calibrate)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``kenolib`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KenolibError as exc:
        print(f"kenolib: error: {escape_control(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("kenolib: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 1
    except OSError as exc:  # disk full, permission changed under us: one line, no traceback
        where = escape_control(exc.filename) if exc.filename else "kenolib"
        print(f"kenolib: error: {where}: {exc.strerror or exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
