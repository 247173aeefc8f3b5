package kmsenvelope_test

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// readmeCommands returns the commands of the README's ```sh blocks, one
// per logical line (backslash continuations joined), comments kept for
// the shell to drop.
func readmeCommands(t *testing.T, readme string) []string {
	t.Helper()
	var cmds []string
	var cur strings.Builder
	inSh := false
	sc := bufio.NewScanner(strings.NewReader(readme))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case !inSh && strings.TrimSpace(line) == "```sh":
			inSh = true
			continue
		case inSh && strings.TrimSpace(line) == "```":
			require.Zero(t, cur.Len(), "a ```sh block ends inside a continued command")
			inSh = false
			continue
		case !inSh:
			continue
		}
		if strings.TrimSpace(line) == "" && cur.Len() == 0 {
			continue
		}
		if cont, ok := strings.CutSuffix(line, `\`); ok {
			cur.WriteString(cont)
			continue
		}
		cur.WriteString(line)
		cmds = append(cmds, strings.TrimSpace(cur.String()))
		cur.Reset()
	}
	require.NoError(t, sc.Err())
	require.False(t, inSh, "an unterminated ```sh block")
	return cmds
}

// withoutComment drops a trailing " # ..." comment.
func withoutComment(cmd string) string {
	if i := strings.Index(cmd, " #"); i >= 0 {
		cmd = cmd[:i]
	}
	return strings.TrimSpace(cmd)
}

// TestReadmeCommands runs every command of README.md's ```sh blocks from
// the repository root, as a new user would after cloning, and requires
// each to succeed; `go test -race ./...` itself is what CI runs, so it is
// skipped here. Every file a command names must be in the repository
// (tracked or about to be: not ignored by git), so that a fresh clone has
// it. Cloud credentials are removed from the environment so that the demo
// runs on the emulator.
func TestReadmeCommands(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the README commands, which run the go tool")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("the go tool is not on PATH: cannot run the README's commands")
	}
	shell, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh on PATH: cannot run the README's commands")
	}
	readme, err := os.ReadFile("README.md")
	require.NoError(t, err)
	cmds := readmeCommands(t, string(readme))
	require.GreaterOrEqual(t, len(cmds), 8, "too few commands found: is the parser wrong?")

	inRepo := repoFiles(t)
	env := []string{"PATH=" + filepath.Dir(goTool) + string(os.PathListSeparator) + os.Getenv("PATH")}
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if k == "PATH" || k == "KMS_KEY_ID" || k == "KMS_ENDPOINT" || k == "SECRET_NAMES" ||
			(strings.HasPrefix(k, "ALIBABA_CLOUD_") && k != "ALIBABA_CLOUD_ECS_METADATA_DISABLED") {
			continue
		}
		env = append(env, kv)
	}

	ran := 0
	for _, cmd := range cmds {
		bare := withoutComment(cmd)
		if bare == "go test -race ./..." {
			continue
		}
		t.Run(strings.Join(strings.Fields(bare), " "), func(t *testing.T) {
			for _, f := range namedFiles(bare) {
				_, err := os.Stat(f)
				require.NoError(t, err, "the command names %s, which does not exist", f)
				if inRepo != nil && !strings.HasPrefix(f, "./") {
					assert.True(t, inRepo[filepath.ToSlash(filepath.Clean(f))], "%s is not in the repository (ignored by git?): a fresh clone lacks it", f)
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			c := exec.CommandContext(ctx, shell, "-c", cmd)
			c.Env = env
			c.WaitDelay = 10 * time.Second
			out, err := c.CombinedOutput()
			require.NoError(t, err, "README command failed: %s\n%s", cmd, out)
		})
		ran++
	}
	require.GreaterOrEqual(t, ran, 7)
}

// namedFiles returns the paths a command names: arguments that start with
// "./" or end in ".json", also after an '=' (--scp ou:ou-1=scp.json).
func namedFiles(cmd string) []string {
	var files []string
	for _, f := range strings.Fields(cmd) {
		if _, v, ok := strings.Cut(f, "="); ok {
			f = v
		}
		if strings.HasPrefix(f, "./") || strings.HasSuffix(f, ".json") {
			files = append(files, f)
		}
	}
	return files
}

// repoFiles returns the files a clone would have once the working tree is
// committed (tracked, or untracked and not ignored), or nil without git.
func repoFiles(t *testing.T) map[string]bool {
	git, err := exec.LookPath("git")
	if err != nil {
		return nil
	}
	out, err := exec.Command(git, "ls-files", "--cached", "--others", "--exclude-standard").Output()
	if err != nil {
		t.Logf("git ls-files: %v; not checking that named files are in the repository", err)
		return nil
	}
	files := make(map[string]bool)
	for _, f := range strings.Split(string(out), "\n") {
		if f != "" {
			files[f] = true
		}
	}
	return files
}
