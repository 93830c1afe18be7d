"""Mount-type detection, the polling fallback and the dirty-path set."""

from __future__ import annotations

import time
from pathlib import Path

from sweeptui.app.watcher import (
    DirtyPaths,
    Mount,
    SweepWatcher,
    is_network_fs,
    mount_type,
    parse_mountinfo,
)

MOUNTINFO = r"""22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
30 22 0:40 / /home rw,relatime shared:2 - xfs /dev/sda2 rw
41 30 0:50 / /home/me/cluster rw,relatime shared:9 - nfs4 server:/export rw,vers=4.2
42 41 0:51 / /home/me/cluster/local rw - tmpfs tmpfs rw
43 22 0:52 / /mnt/remote\040box rw,nosuid - fuse.sshfs me@box:/data rw
44 22 0:53 / /lustre rw - lustre 10.0.0.1@tcp:/fs rw
45 22 0:54 / /gpfs/proj rw master:3 - gpfs proj rw
46 22 0:55 / /mnt/share rw - cifs //srv/share rw
this line is garbage
"""


def test_parse_mountinfo_reads_points_and_types() -> None:
    mounts = parse_mountinfo(MOUNTINFO)
    assert Mount("/", "ext4") in mounts
    assert Mount("/mnt/remote box", "fuse.sshfs") in mounts  # \040 decoded
    assert Mount("/gpfs/proj", "gpfs") in mounts  # optional fields before the dash
    assert len(mounts) == 8


def test_longest_mount_point_wins() -> None:
    mounts = parse_mountinfo(MOUNTINFO)
    assert mount_type("/home/me/cluster/sweep1", mounts) == "nfs4"
    assert mount_type("/home/me/cluster/local/x", mounts) == "tmpfs"
    assert mount_type("/home/me/clusterfoo", mounts) == "xfs"  # a prefix of a name is not a parent
    assert mount_type("/mnt/remote box/runs", mounts) == "fuse.sshfs"
    assert mount_type("/tmp/x", mounts) == "ext4"
    assert mount_type("/x", []) is None


def test_network_and_fuse_filesystems_need_polling() -> None:
    for fstype in ("nfs", "nfs4", "cifs", "smb3", "fuse.sshfs", "fuse", "lustre", "gpfs", "beegfs"):
        assert is_network_fs(fstype), fstype
    for fstype in ("ext4", "xfs", "btrfs", "tmpfs", "zfs", None):
        assert not is_network_fs(fstype), fstype


def test_watcher_polls_on_a_network_mount(tmp_path: Path) -> None:
    mounts = [Mount("/", "ext4"), Mount(str(tmp_path), "nfs4")]
    watcher = SweepWatcher(tmp_path, DirtyPaths(), mounts=mounts)
    watcher.start()
    try:
        assert watcher.polling
        assert "nfs4" in watcher.notes[0]
    finally:
        watcher.stop()


def test_watcher_uses_events_on_a_local_disk_and_poll_when_forced(tmp_path: Path) -> None:
    native = SweepWatcher(tmp_path, DirtyPaths(), mounts=[Mount("/", "ext4")])
    native.start()
    forced = SweepWatcher(tmp_path, DirtyPaths(), poll=0.2, mounts=[Mount("/", "ext4")])
    forced.start()
    try:
        assert not native.polling and native.notes == []
        assert forced.polling and "--poll" in forced.notes[0]
    finally:
        native.stop()
        forced.stop()


def test_dead_observer_is_replaced_by_polling(tmp_path: Path) -> None:
    watcher = SweepWatcher(tmp_path, DirtyPaths(), mounts=[Mount("/", "ext4")])
    watcher.start()
    watcher._observer.stop()  # simulate the observer thread dying
    watcher._observer.join(5)
    watcher.check()
    try:
        assert watcher.polling
        assert "stopped" in watcher.notes[-1]
    finally:
        watcher.stop()


def _wait_for_path(dirty: DirtyPaths, path: Path, timeout: float = 10.0) -> set[str]:
    seen: set[str] = set()
    deadline = time.monotonic() + timeout
    while str(path) not in seen and time.monotonic() < deadline:
        dirty.wakeup.wait(0.2)
        seen |= dirty.drain()
    return seen


def test_changes_are_recorded_by_native_and_polling_observers(tmp_path: Path) -> None:
    for poll in (None, 0.1):
        dirty = DirtyPaths()
        watcher = SweepWatcher(tmp_path, dirty, poll=poll, mounts=[Mount("/", "ext4")])
        watcher.start()
        try:
            target = tmp_path / f"run_{poll}" / "metrics.jsonl"
            target.parent.mkdir()
            target.write_text('{"step": 0, "loss": 1.0}\n')
            assert str(target) in _wait_for_path(dirty, target)
        finally:
            watcher.stop()


def test_dirty_paths_drain_once() -> None:
    dirty = DirtyPaths()
    dirty.add("/a", "", "/b")
    assert dirty.wakeup.is_set()
    assert dirty.drain() == {"/a", "/b"}
    assert dirty.drain() == set()
    assert not dirty.wakeup.is_set()


def test_appends_rewrites_truncations_and_markers_are_all_recorded(tmp_path: Path) -> None:
    """Closes after writing are not watched: every kind of write must still be seen."""
    log = tmp_path / "run" / "metrics.jsonl"
    log.parent.mkdir()
    log.write_text('{"step": 0}\n')
    marker = tmp_path / "run" / "DONE"
    writes = {
        "append": lambda: log.open("a").write('{"step": 1}\n'),
        "rewrite in place": lambda: log.write_text('{"step": 0, "loss": 2.0}\n'),
        "truncate to empty": lambda: log.open("w").close(),
        "empty marker created": lambda: marker.touch(),
    }
    dirty = DirtyPaths()
    watcher = SweepWatcher(tmp_path, dirty, mounts=[Mount("/", "ext4")])
    watcher.start()
    try:
        for what, write in writes.items():
            time.sleep(0.3)  # late events of the previous write must not count for this one
            dirty.drain()
            write()
            target = marker if what.startswith("empty marker") else log
            assert str(target) in _wait_for_path(dirty, target), what
    finally:
        watcher.stop()
