"""`sluice completion bash|zsh|fish` loaded into the real shells (Debian's bash, zsh and fish,
installed by scripts/install-deps.sh), asked to complete partial command lines, and the answers
checked: what a user gets after pressing Tab.

- bash: the script is sourced and its function called the way bash's completion calls it.
- zsh: the script is loaded through compinit into an interactive zsh run on a pseudo-terminal
  (zsh's own zpty module), Tab is typed, and what the completion offers is read back (compadd
  wrapped to print its matches).
- fish: `complete --do-complete` (fish's own way to ask for the completions of a line).
"""

import os
import shutil
import subprocess
import tempfile
import unittest

SLUICE = os.environ.get("SLUICE_BINARY", "sluice")


def completion_script(shell):
    run = subprocess.run([SLUICE, "completion", shell], capture_output=True, text=True, timeout=30)
    if run.returncode != 0:
        raise AssertionError("sluice completion %s: %s" % (shell, run.stderr))
    return run.stdout


def require(shell):
    path = shutil.which(shell)
    if path is None:
        raise AssertionError("%s is not installed (scripts/install-deps.sh installs it)" % shell)
    return path


class ShellCompletionTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="sluice-completions-")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def write(self, name, text):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_bash(self):
        require("bash")
        script = self.write("sluice.bash", completion_script("bash"))

        def complete(*words):
            line = "source %s; COMP_WORDS=(%s); COMP_CWORD=%d; _sluice; printf '%%s\\n' " \
                   "\"${COMPREPLY[@]}\"" % (script, " ".join("'%s'" % w for w in words),
                                           len(words) - 1)
            run = subprocess.run(["bash", "-c", line], capture_output=True, text=True, timeout=30)
            self.assertEqual(run.returncode, 0, run.stderr)
            return set(run.stdout.split())

        self.assertEqual(complete("sluice", "group", "res"), {"reset-offsets"})
        self.assertIn("add-partitions", complete("sluice", "topic", ""))
        self.assertIn("--to-datetime", complete("sluice", "group", "reset-offsets", "--to"))
        # The root's options work after a subcommand too.
        self.assertIn("--data-dir", complete("sluice", "consume", "--data"))

    def test_fish(self):
        require("fish")
        script = self.write("sluice.fish", completion_script("fish"))

        def complete(line):
            run = subprocess.run(
                ["fish", "--no-config", "-c",
                 "source %s; complete --do-complete '%s'" % (script, line)],
                capture_output=True, text=True, timeout=30)
            self.assertEqual(run.returncode, 0, run.stderr)
            # Each line: "word<TAB>description".
            return {l.split("\t")[0] for l in run.stdout.splitlines() if l}

        self.assertEqual(complete("sluice group res"), {"reset-offsets"})
        top = complete("sluice ")
        for word in ("topic", "produce", "consume", "group", "serve", "completion"):
            self.assertIn(word, top)
        self.assertNotIn("help-man", top)  # hidden
        self.assertIn("add-partitions", complete("sluice topic "))
        self.assertIn("--to-datetime", complete("sluice group reset-offsets --to"))

    def test_zsh(self):
        require("zsh")
        fpath = os.path.join(self.dir, "functions")
        os.mkdir(fpath)
        self.write(os.path.join("functions", "_sluice"), completion_script("zsh"))
        # Loaded into an interactive zsh on a pseudo-terminal (zsh's zpty), as a user's shell
        # loads an installed completion: compinit finds _sluice in $fpath. compadd is wrapped to
        # print what it would offer (matched against the typed prefix by compadd itself), between
        # two marker lines that the completion system's pre- and post-hooks print; Tab is bound
        # to complete-word, and the line is never run.
        script = self.write("sluice.zsh", completion_script("zsh"))
        setup = r"""
PROMPT=''
fpath=(%s $fpath)
autoload -U compinit
compinit -u -D
%s
bindkey '^M' undefined
bindkey '^J' undefined
bindkey '^I' complete-word
begin-marker() { print -r -- '<<<BEGIN>>>' }
end-marker() { print -r -- '<<<END>>>'; exit }
compprefuncs=(begin-marker)
comppostfuncs=(end-marker)
compadd() {
  if [[ ${@[1,(i)(-|--)]} == *-(O|A|D)\ * ]]; then
    builtin compadd "$@"
    return
  fi
  local -a __hits
  builtin compadd -A __hits "$@"
  (( $#__hits )) && print -rl -- $__hits
}
"""
        # Installed (_sluice in $fpath), or sourced from a .zshrc after compinit.
        installed = self.write("installed.zsh", setup % (fpath, ""))
        sourced = self.write("sourced.zsh", setup % (self.dir, "source " + quote_zsh(script)))

        def complete(line, capture=installed):
            driver = r"""
zmodload zsh/zpty
cd %s
zpty sh 'zsh -f -i'
zpty -w sh 'source %s'
zpty -w -n sh %s$'\t'
out=''
while zpty -r sh chunk; do
  out+=$chunk
  [[ $out == *'<<<END>>>'* ]] && break
done
print -r -- "$out"
zpty -d sh
""" % (quote_zsh(self.dir), quote_zsh(capture), quote_zsh(line))
            run = subprocess.run(["zsh", "-f", "-c", driver], capture_output=True, text=True,
                                 timeout=60)
            self.assertEqual(run.returncode, 0, run.stderr)
            out = run.stdout.replace("\r", "")
            self.assertIn("<<<BEGIN>>>", out, out)
            self.assertIn("<<<END>>>", out, out)
            body = out.rsplit("<<<BEGIN>>>", 1)[1].split("<<<END>>>", 1)[0]
            return {w.strip() for w in body.splitlines() if w.strip()}

        self.assertEqual(complete("sluice group res"), {"reset-offsets"})
        topic = complete("sluice topic ")
        for word in ("create", "list", "describe", "add-partitions", "--data-dir"):
            self.assertIn(word, topic)
        self.assertIn("--to-datetime", complete("sluice group reset-offsets --to"))
        self.assertEqual(complete("sluice group res", sourced), {"reset-offsets"})


def quote_zsh(s):
    return "'" + s.replace("'", "'\\''") + "'"


if __name__ == "__main__":
    unittest.main()
