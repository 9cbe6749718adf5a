"""objects.source_digest: the digest of the backend's sources that keys named objects, kept in
the cache folder beside a stamp of the files (names, sizes, times, inodes) so that a warm start
stats the sources instead of reading and hashing them."""

import os

import pytest

from graphc.backends.llvm import objects


@pytest.fixture
def sources(tmp_path, monkeypatch):
    folder = tmp_path / "src"
    folder.mkdir()
    files = []
    for name, text in (("a.py", "x = 1\n"), ("b.py", "y = 2\n")):
        (folder / name).write_text(text)
        files.append(folder / name)
    monkeypatch.setattr(objects, "source_files", lambda: files)
    monkeypatch.setenv("GRAPHC_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("GRAPHC_CACHE", raising=False)
    objects.source_digest.cache_clear()
    yield files
    objects.source_digest.cache_clear()


def fresh_digest() -> str:
    objects.source_digest.cache_clear()
    return objects.source_digest()


def test_digest_is_the_contents_digest_and_is_remembered(sources, tmp_path, monkeypatch):
    digest = fresh_digest()
    assert digest == objects.contents_digest(sources)
    memo = tmp_path / "cache" / objects.DIGEST_MEMO
    assert memo.read_text().endswith(" " + digest)
    monkeypatch.setattr(objects, "contents_digest", lambda files: pytest.fail("read again"))
    assert fresh_digest() == digest


def test_an_edited_source_is_hashed_again(sources):
    before = fresh_digest()
    sources[1].write_text("y = 3\n")  # same size: the time (and content) differ
    stat = sources[1].stat()
    os.utime(sources[1], ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    after = fresh_digest()
    assert after != before and after == objects.contents_digest(sources)


def test_a_damaged_memo_is_a_miss(sources, tmp_path):
    digest = fresh_digest()
    memo = tmp_path / "cache" / objects.DIGEST_MEMO
    stamp = memo.read_text().split(" ")[0]
    memo.write_text(stamp + " not-a-digest")
    assert fresh_digest() == digest and memo.read_text() == f"{stamp} {digest}"


def test_cache_off_writes_no_memo(sources, tmp_path, monkeypatch):
    monkeypatch.setenv("GRAPHC_CACHE", "0")
    assert fresh_digest() == objects.contents_digest(sources)
    assert not (tmp_path / "cache").exists()
