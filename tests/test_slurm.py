"""`elena slurm --submit` against a real SLURM: a one-node cluster of Debian's `slurm-wlm` and `munge` packages, started
here as root (munged, slurmctld, slurmd) with a generated slurm.conf (127.0.0.1, free unprivileged ports, proctrack/linuxproc,
task/none, state, spool and logs in a temporary folder, the node's CPUs and memory as `slurmd -C` reports them), and stopped
by process id. Skipped, with the reason, where SLURM is not installed or the test does not run as root."""
import collections
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import matplotlib.cbook
import pytest
from elena.prompts import get_prompt

BIN = Path(sys.executable).parent
ELENA = str(BIN / 'elena')
PROGRAMS = ('munged', 'mungekey', 'slurmctld', 'slurmd', 'sbatch', 'squeue', 'scontrol', 'scancel', 'sinfo')
PHOTO = Path(matplotlib.cbook.get_sample_data('grace_hopper.jpg', asfileobj=False))


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def slurm_conf(d: Path, socket_path: Path) -> str:
    "A one-node cluster on 127.0.0.1; the node's hardware from `slurmd -C` (slurmd refuses a node it does not match)"
    first = subprocess.run(['slurmd', '-C'], capture_output=True, text=True, check=True).stdout.splitlines()[0]
    hw = dict(x.split('=', 1) for x in first.split())
    host = socket.gethostname().split('.')[0]
    node = ' '.join(f"{k}={hw[k]}" for k in ('CPUs', 'Boards', 'SocketsPerBoard', 'CoresPerSocket', 'ThreadsPerCore', 'RealMemory') if k in hw)
    return '\n'.join([
        'ClusterName=elenatest', f'SlurmctldHost={host}(127.0.0.1)', f'SlurmctldPort={free_port()}', f'SlurmdPort={free_port()}',
        'AuthType=auth/munge', f'AuthInfo=socket={socket_path}', 'CredType=cred/munge', 'SlurmUser=root', 'SlurmdUser=root',
        f"StateSaveLocation={d / 'state'}", f"SlurmdSpoolDir={d / 'spool'}",
        f"SlurmctldPidFile={d / 'slurmctld.pid'}", f"SlurmdPidFile={d / 'slurmd.pid'}",
        f"SlurmctldLogFile={d / 'log' / 'slurmctld.log'}", f"SlurmdLogFile={d / 'log' / 'slurmd.log'}",
        'ProctrackType=proctrack/linuxproc', 'TaskPlugin=task/none', 'JobAcctGatherType=jobacct_gather/none',
        'AccountingStorageType=accounting_storage/none', 'MpiDefault=none', 'ReturnToService=2',
        'SchedulerType=sched/backfill', 'SelectType=select/cons_tres', 'SelectTypeParameters=CR_Core', 'MinJobAge=600',
        f'NodeName={host} NodeAddr=127.0.0.1 {node} State=UNKNOWN',
        'PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP', ''])


@pytest.fixture(scope='module')
def cluster():
    missing = [p for p in PROGRAMS if not shutil.which(p)]
    if missing: pytest.skip(f"SLURM is not installed (no {', '.join(missing)}): apt-get install slurm-wlm munge")
    if os.geteuid() != 0: pytest.skip("starting munged, slurmctld and slurmd for a test cluster needs root")
    d = Path(tempfile.mkdtemp(prefix='elena-slurm-'))  # short: the munge socket path must fit in a unix socket name
    for sub in ('state', 'spool', 'log', 'munge'): (d / sub).mkdir(mode=0o700)
    key, sock = d / 'munge' / 'munge.key', d / 'munge' / 'munge.socket'
    subprocess.run(['mungekey', '--create', '--keyfile', str(key)], check=True, capture_output=True)
    os.chmod(key, 0o600)
    (d / 'slurm.conf').write_text(slurm_conf(d, sock))
    env = {**os.environ, 'SLURM_CONF': str(d / 'slurm.conf')}
    procs, log = [], open(d / 'log' / 'daemons.log', 'w')
    try:
        procs.append(subprocess.Popen(['munged', '--foreground', '--force', '--key-file', str(key), '--socket', str(sock),
                                       '--pid-file', str(d / 'munge' / 'munged.pid'), '--seed-file', str(d / 'munge' / 'seed'),
                                       '--log-file', str(d / 'log' / 'munged.log')], stdout=log, stderr=log))
        deadline = time.monotonic() + 30
        while not sock.exists() and time.monotonic() < deadline: time.sleep(0.1)
        procs.append(subprocess.Popen(['slurmctld', '-D', '-i'], env=env, stdout=log, stderr=log))
        procs.append(subprocess.Popen(['slurmd', '-D'], env=env, stdout=log, stderr=log))
        deadline, state = time.monotonic() + 90, ''
        while time.monotonic() < deadline:
            state = subprocess.run(['sinfo', '-h', '-o', '%T'], capture_output=True, text=True, env=env).stdout.strip()
            if state == 'idle': break
            if any(p.poll() is not None for p in procs): break
            time.sleep(0.5)
        if state != 'idle':
            pytest.fail(f"the test cluster did not come up (node state {state!r}); daemons' log:\n" + (d / 'log' / 'daemons.log').read_text()[-3000:])
        yield env
    finally:
        if len(procs) == 3:  # jobs a failed test left behind: cancelled, so that no task outlives the cluster
            left = subprocess.run(['squeue', '-h', '-o', '%i'], capture_output=True, text=True, env=env).stdout.split()
            if left:
                subprocess.run(['scancel', *left], capture_output=True, env=env)
                time.sleep(3)
        for p in reversed(procs):  # our daemons, by their process ids
            if p.poll() is None: p.send_signal(signal.SIGTERM)
        for p in reversed(procs):
            try: p.wait(timeout=30)
            except subprocess.TimeoutExpired: p.kill(); p.wait()
        log.close()
        shutil.rmtree(d, ignore_errors=True)


def slurm(env, *args, cwd=None):
    "`elena slurm … --submit`; returns the job ids it printed"
    r = subprocess.run([ELENA, 'slurm', *args, '--submit'], capture_output=True, text=True, env=env, timeout=300, cwd=cwd)
    assert r.returncode == 0, r.stdout + r.stderr[-3000:]
    assert 'watch: squeue -j' in r.stdout and 'elena status' in r.stdout, r.stdout
    return dict(re.findall(r'(mask|array|merge) job (\d+)', r.stdout))


def jobs(env, ids):
    "Job (or array task) -> (state, exit code), from scontrol (accounting is off; MinJobAge keeps finished jobs listed)"
    out = {}
    for i in ids:
        text = subprocess.run(['scontrol', '-o', 'show', 'job', i], capture_output=True, text=True, env=env).stdout
        for line in text.splitlines():
            f = dict(x.split('=', 1) for x in line.split() if '=' in x)
            key = f"{f['ArrayJobId']}_{f['ArrayTaskId']}" if 'ArrayTaskId' in f else f['JobId']
            out[key] = (f['JobState'], f['ExitCode'])
    return out


def wait(env, ids, timeout=600):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        st = jobs(env, ids.values())
        if st and all(s in ('COMPLETED', 'FAILED', 'CANCELLED', 'TIMEOUT', 'OUT_OF_MEMORY', 'NODE_FAIL') for s, _ in st.values()): return st
        time.sleep(1)
    raise AssertionError(f"jobs {ids} still not finished after {timeout} s: {jobs(env, ids.values())}")


def records(path):
    return [json.loads(l) for l in path.read_text().splitlines() if l.strip()]


def test_tiny_model_on_samples_array_then_merge(cluster, tmp_path):
    "Two array tasks, then the merge job: every item answered exactly once in the merged file"
    out = tmp_path / 'responses'
    ids = slurm(cluster, '--model', 'tiny-gemma3', '--dataset', 'samples', '--shards', '2', '--out-dir', str(out),
                '--max-new-tokens', '8', cwd=tmp_path)
    assert set(ids) == {'array', 'merge'}, ids
    st = wait(cluster, ids)
    logs = ''.join(p.read_text() for p in sorted((out / 'slurm').glob('*.log')))
    assert st == {f"{ids['array']}_0": ('COMPLETED', '0:0'), f"{ids['array']}_1": ('COMPLETED', '0:0'),
                  ids['merge']: ('COMPLETED', '0:0')}, (st, logs[-3000:])
    assert len(list((out / 'slurm').glob(f"tiny-gemma3-samples-original-elena-{ids['array']}_*.log"))) == 2  # one log per task
    merged = records(out / 'tiny-gemma3' / 'samples' / 'original-elena.jsonl')
    assert sorted(r['id'] for r in merged) == ['astronaut.jpg', 'grace_hopper.jpg'], merged
    # random weights never stop before the token limit: each item ended as a recorded MaxTokens error, and the tasks
    # still exited 0 (work done, asked again next time), so the merge job's afterok was met
    assert all(r['random_weights'] and r['error']['type'] == 'MaxTokens' for r in merged)
    r = subprocess.run([ELENA, 'status', str(out)], capture_output=True, text=True, timeout=120)
    line = next(l for l in r.stdout.splitlines() if l.startswith('tiny-gemma3'))
    assert '2 (MaxTokens 2)' in line and 'random weights' in line, r.stdout


def images(d, n):
    for i in range(n):
        p = d / f'img{i:03d}.jpg'
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(PHOTO.read_bytes() + i.to_bytes(2, 'big'))  # distinct bytes, still a valid JPEG
    return d


def test_resubmission_asks_only_what_is_missing(cluster, tmp_path):
    """A task killed after its first answer: its other records are gone and the merge never ran. Submitting the same
    command again asks only those items; the other task asks nothing. The model is the OpenAI stand-in (canned answers
    without error, so that a stored answer counts as done)."""
    from elena.standins import standin_process
    data, out = images(tmp_path / 'imgs', 8), tmp_path / 'responses'
    with standin_process('openai') as url:
        args = ('--model', 'openai:standin', '--base-url', url + '/v1', '--dataset', 'folder', '--data-dir', str(data),
                '--shards', '2', '--out-dir', str(out))
        first = slurm(cluster, *args, cwd=tmp_path)
        assert all(s == ('COMPLETED', '0:0') for s in wait(cluster, first).values())
        run = out / 'openai_standin' / 'folder'
        shards = [run / f'original-elena.shard-{i}-of-2.jsonl' for i in range(2)]
        merged = records(run / 'original-elena.jsonl')
        assert sorted(r['id'] for r in merged) == [f'img{i:03d}.jpg' for i in range(8)] and not any(r['error'] for r in merged)
        # the task with more items was killed after its first answer: the merge never ran
        big = max(shards, key=lambda p: len(records(p)))
        other = next(p for p in shards if p != big)
        kept, lost = records(big)[0], [r['id'] for r in records(big)[1:]]
        assert lost
        big.write_text(json.dumps(kept) + '\n')
        (run / 'original-elena.jsonl').unlink()
        other_before = other.read_bytes()
        second = slurm(cluster, *args, cwd=tmp_path)
        st = wait(cluster, second)
    assert all(s == ('COMPLETED', '0:0') for s in st.values()), st
    assert other.read_bytes() == other_before  # nothing asked again there
    again = records(big)
    assert again[0] == kept and sorted(r['id'] for r in again[1:]) == sorted(lost)  # only the lost items were asked
    merged = records(run / 'original-elena.jsonl')
    counts = collections.Counter(r['id'] for r in merged)
    assert sorted(counts) == [f'img{i:03d}.jpg' for i in range(8)] and set(counts.values()) == {1}, counts
    logs = {p.name: p.read_text() for p in (out / 'slurm').glob(f"*-{second['array']}_*.log")}
    assert any(f'skipped {len(records(other))} already answered, answered 0' in t for t in logs.values()), logs
    assert any(f'skipped 1 already answered, answered {len(lost)}' in t for t in logs.values()), logs


def test_masked_condition_masks_once_before_the_array(cluster, tmp_path):
    "--condition masked: one mask job hides the faces, the array waits for it (afterok), and no task masks an image again"
    yunet = os.environ.get('ELENA_YUNET', '')
    if not Path(yunet).is_file(): pytest.skip('ELENA_YUNET names no YuNet model file')
    from elena.standins import standin_process
    env = {**cluster, 'ELENA_CACHE': str(tmp_path / 'cache')}  # written into the scripts, as a shared cache would be
    out = tmp_path / 'responses'
    with standin_process('openai') as url:
        ids = slurm(env, '--model', 'openai:standin', '--base-url', url + '/v1', '--dataset', 'samples', '--condition', 'masked',
                    '--shards', '2', '--out-dir', str(out), '--yunet', yunet, cwd=tmp_path)
        assert set(ids) == {'mask', 'array', 'merge'}, ids
        st = wait(cluster, ids)
    assert all(s == ('COMPLETED', '0:0') for s in st.values()), st
    faces = [json.loads(l) for p in (tmp_path / 'cache' / 'masked').glob('samples-*/faces.jsonl') for l in p.read_text().splitlines()]
    per_image = collections.Counter(f['id'] for f in faces if 'id' in f)
    assert sorted(per_image) == ['astronaut.jpg', 'grace_hopper.jpg'] and set(per_image.values()) == {1}, faces  # masked once
    merged = records(out / 'openai_standin' / 'samples' / 'masked-elena.jsonl')
    assert sorted(r['id'] for r in merged) == ['astronaut.jpg', 'grace_hopper.jpg']
    assert all(r['condition'] == 'masked' and r['prompt_id'] == get_prompt('elena', masked=True).id and not r['error'] for r in merged)
