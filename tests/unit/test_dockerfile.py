"""grader.dockerfile: each rule of the Dockerfile reference it follows, one test each."""

from __future__ import annotations

from grader.dockerfile import copy_args, env_pairs, exec_form, parse, stages


def test_instructions_are_case_insensitive_and_blanks_squeezed():
    assert parse("from  alpine:3.20\nRun   echo   hi\n\n\ncmd sh\n") == [
        ("FROM", "alpine:3.20"), ("RUN", "echo hi"), ("CMD", "sh")]
    assert parse("") == [] and parse("\n\n# only a comment\n") == []


def test_comment_lines_are_dropped():
    text = "# a comment\nFROM alpine\n   # indented comment\nRUN echo # not a comment\n"
    assert parse(text) == [("FROM", "alpine"), ("RUN", "echo # not a comment")]


def test_continuations_join_lines():
    text = "RUN apt-get update && \\\n    apt-get install -y curl \\\n    && rm -rf /var/lib/apt\nUSER app\n"
    assert parse(text) == [("RUN", "apt-get update && apt-get install -y curl && rm -rf /var/lib/apt"),
                           ("USER", "app")]


def test_comments_and_empty_lines_inside_a_continuation_are_dropped():
    text = "RUN a \\\n# about b\n\n    b \\\n  # about c\n    c\nCMD x\n"
    assert parse(text) == [("RUN", "a b c"), ("CMD", "x")]


def test_a_continuation_at_the_end_of_the_file_ends_it():
    assert parse("FROM alpine\nRUN a \\\n    b \\") == [("FROM", "alpine"), ("RUN", "a b")]


def test_escape_directive_backtick():
    text = "# escape=`\nFROM mcr.microsoft.com/windows\nRUN dir c:\\ `\n    && echo done\n"
    assert parse(text) == [("FROM", "mcr.microsoft.com/windows"), ("RUN", "dir c:\\ && echo done")]
    # with the backtick as escape, a trailing backslash is just a character
    assert parse("#escape = `\nRUN a \\\nCMD b\n") == [("RUN", "a \\"), ("CMD", "b")]


def test_directives_only_at_the_top():
    # other directives (syntax=) are read and skipped; an unknown escape keeps the backslash
    assert parse("# syntax=docker/dockerfile:1\n# escape=x\nRUN a \\\n  b\n") == [("RUN", "a b")]
    # after an instruction (or a comment) a directive is a comment: the backslash stays the escape
    assert parse("FROM alpine\n# escape=`\nRUN a `\nCMD b\n") == [("FROM", "alpine"), ("RUN", "a `"), ("CMD", "b")]
    assert parse("# hello\n# escape=`\nRUN a \\\n  b\n") == [("RUN", "a b")]


def test_exec_form_only_for_a_json_array_of_strings():
    assert exec_form('["python", "-m", "orders"]') == ["python", "-m", "orders"]
    assert exec_form("[]") == []
    assert exec_form("python -m orders") is None                 # shell form
    assert exec_form("['python', '-m']") is None                 # not JSON: shell form, as Docker runs it
    assert exec_form('["python", 8080]') is None                 # not all strings
    assert exec_form('{"cmd": "python"}') is None
    assert exec_form('["python",') is None


def test_env_forms():
    assert env_pairs("APP_ENV=prod DEBUG=0") == {"APP_ENV": "prod", "DEBUG": "0"}
    assert env_pairs('MSG="hello world" X=\'a b\' Y=1=2') == {"MSG": "hello world", "X": "a b", "Y": "1=2"}
    assert env_pairs("APP_ENV prod") == {"APP_ENV": "prod"}     # legacy form: the rest is the value
    assert env_pairs("MSG hello big world") == {"MSG": "hello big world"}
    assert env_pairs('MSG="unterminated') == {}                  # not shell words: nothing set
    assert env_pairs("") == {}


def test_stages():
    found = parse("FROM --platform=$BUILDPLATFORM golang:1.22 AS build\nRUN go build\n"
                  "FROM gcr.io/distroless/static-debian12 as final\nCOPY --from=build /out/a /a\n"
                  "FROM scratch\nUSER 65532\n")
    assert stages(found) == [
        {"image": "golang:1.22", "name": "build", "steps": [("RUN", "go build")]},
        {"image": "gcr.io/distroless/static-debian12", "name": "final",
         "steps": [("COPY", "--from=build /out/a /a")]},
        {"image": "scratch", "name": None, "steps": [("USER", "65532")]}]
    assert stages([("ARG", "V=1"), ("FROM", "alpine")]) == [{"image": "alpine", "name": None, "steps": []}]
    assert stages([("FROM", "")]) == [{"image": "", "name": None, "steps": []}]


def test_copy_flags_and_paths():
    assert copy_args("--from=build --chown=65532:65532 /out/greeter /usr/local/bin/greeter") == (
        {"from": "build", "chown": "65532:65532"}, ["/out/greeter", "/usr/local/bin/greeter"])
    assert copy_args('--FROM=0 ["/out/greeter", "/usr/local/bin/"]') == (
        {"from": "0"}, ["/out/greeter", "/usr/local/bin/"])
    assert copy_args("--link") == ({"link": ""}, [])
    assert copy_args('["a", 1]') == ({}, [])
