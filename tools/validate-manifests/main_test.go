package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Each sample must pass, or fail for the reason it was written for: the
// substrings name the offending field or reference and the check that
// caught it.
var samples = []struct {
	file   string
	label  string
	wantOK bool
	want   []string
}{
	{"task-good.yaml", "Task/good-task", true, nil},
	{"task-bad-misspelt-step-field.yaml", "Task/bad-task-misspelt", false,
		[]string{"schema: /spec/steps/0: additional properties 'imagee' not allowed", `decode: `, `unknown field "imagee"`}},
	{"task-bad-misspelt-steps.yaml", "Task/bad-task-stpes", false,
		[]string{"schema: /spec: additional properties 'stpes' not allowed", `unknown field "stpes"`}},
	{"task-bad-undefined-param.yaml", "Task/bad-task-param", false,
		[]string{`tekton: non-existent variable in "$(params.NOPE)": spec.steps[0].env[GREETING]`}},
	{"task-bad-undefined-result.yaml", "Task/bad-task-result", false,
		[]string{`tekton: non-existent variable in`, `$(results.nope.path)`, `spec.steps[0].script`}},

	{"stepaction-good.yaml", "StepAction/good-stepaction", true, nil},
	{"stepaction-bad-misspelt-field.yaml", "StepAction/bad-stepaction-misspelt", false,
		[]string{"schema: /spec: additional properties 'imagee' not allowed", `unknown field "imagee"`}},
	{"stepaction-bad-undefined-param.yaml", "StepAction/bad-stepaction-param", false,
		[]string{`tekton: non-existent variable in "$(params.NOPE)": spec.env[MESSAGE]`}},
	{"stepaction-bad-undefined-result.yaml", "StepAction/bad-stepaction-result", false,
		[]string{`tekton: non-existent variable in`, `$(step.results.nope.path)`, `spec.script`}},

	{"workflowtemplate-good.yaml", "WorkflowTemplate/good-wftmpl", true, nil},
	{"workflowtemplate-bad-misspelt-field.yaml", "WorkflowTemplate/bad-wftmpl-misspelt", false,
		[]string{"schema: /spec/templates/0/container: additional properties 'imagee' not allowed", `unknown field "imagee"`}},
	{"workflowtemplate-bad-undefined-param.yaml", "WorkflowTemplate/bad-wftmpl-param", false,
		[]string{"argo: templates.main: failed to resolve {{inputs.parameters.nope}}"}},
	{"workflowtemplate-bad-undefined-result.yaml", "WorkflowTemplate/bad-wftmpl-result", false,
		[]string{"argo: templates.main.tasks.consume failed to resolve {{tasks.produce.outputs.parameters.nope}}"}},
}

func runTool(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(args, &stdout, &stderr)
	return stdout.String(), stderr.String(), code
}

func TestSamples(t *testing.T) {
	for _, s := range samples {
		t.Run(s.file, func(t *testing.T) {
			path := filepath.Join("testdata", s.file)
			out, errOut, code := runTool(t, path)
			lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
			if len(lines) != 1 {
				t.Fatalf("want one output line, got %q (stderr %q)", out, errOut)
			}
			line := lines[0]
			if s.wantOK {
				if want := "OK " + path + " " + s.label; line != want || code != 0 {
					t.Fatalf("got %q (exit %d), want %q (exit 0); stderr %q", line, code, want, errOut)
				}
				return
			}
			prefix := "FAIL " + path + " " + s.label + ": "
			if !strings.HasPrefix(line, prefix) || code != 1 {
				t.Fatalf("got %q (exit %d), want prefix %q (exit 1); stderr %q", line, code, prefix, errOut)
			}
			for _, w := range s.want {
				if !strings.Contains(line, w) {
					t.Errorf("reason %q missing from %q", w, line)
				}
			}
		})
	}
}

// Every sample in testdata/ is covered by the table above.
func TestSamplesListed(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, s := range samples {
		listed[s.file] = true
	}
	for _, f := range files {
		if !listed[filepath.Base(f)] {
			t.Errorf("%s has no expectation in samples", f)
		}
	}
}

func TestManyFilesAndDocuments(t *testing.T) {
	dir := t.TempDir()
	multi := filepath.Join(dir, "multi.yaml")
	good, err := os.ReadFile(filepath.Join("testdata", "task-good.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(good) + "---\n# only a comment\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n"
	if err := os.WriteFile(multi, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _, code := runTool(t, filepath.Join("testdata", "stepaction-good.yaml"), multi)
	want := []string{
		"OK testdata/stepaction-good.yaml StepAction/good-stepaction",
		"OK " + multi + " Task/good-task",
		"FAIL " + multi + ` ConfigMap/cm: unsupported apiVersion/kind "v1"/"ConfigMap"`,
	}
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) != len(want) || code != 1 {
		t.Fatalf("got %q (exit %d)", out, code)
	}
	for i := range want {
		if !strings.HasPrefix(lines[i], want[i]) {
			t.Errorf("line %d: got %q, want prefix %q", i, lines[i], want[i])
		}
	}

	// All good: exit 0.
	if out, _, code := runTool(t, filepath.Join("testdata", "task-good.yaml"), filepath.Join("testdata", "workflowtemplate-good.yaml")); code != 0 {
		t.Errorf("good files: exit %d, output %q", code, out)
	}
}

func TestArgoTemplateRefResolvedFromGivenFiles(t *testing.T) {
	dir := t.TempDir()
	wf := filepath.Join(dir, "wf.yaml")
	body := "apiVersion: argoproj.io/v1alpha1\nkind: Workflow\nmetadata:\n  generateName: run-\nspec:\n  workflowTemplateRef:\n    name: good-wftmpl\n"
	if err := os.WriteFile(wf, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	// Alone, the reference cannot be resolved.
	out, _, code := runTool(t, wf)
	if code != 1 || !strings.Contains(out, "not found") {
		t.Errorf("unresolved ref: got %q (exit %d)", out, code)
	}
	// With the template among the inputs, it can.
	out, _, code = runTool(t, filepath.Join("testdata", "workflowtemplate-good.yaml"), wf)
	if code != 0 {
		t.Errorf("resolved ref: got %q (exit %d)", out, code)
	}
}

func TestCaseMismatchCaughtBySchema(t *testing.T) {
	// encoding/json matches field names case-insensitively, so only the
	// closed schema catches "Image".
	dir := t.TempDir()
	f := filepath.Join(dir, "t.yaml")
	body := "apiVersion: tekton.dev/v1\nkind: Task\nmetadata:\n  name: t\nspec:\n  steps:\n    - name: a\n      Image: alpine\n"
	if err := os.WriteFile(f, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _, code := runTool(t, f)
	if code != 1 || !strings.Contains(out, "additional properties 'Image' not allowed") {
		t.Errorf("got %q (exit %d)", out, code)
	}
}

func TestUsageErrors(t *testing.T) {
	if _, _, code := runTool(t); code != 2 {
		t.Errorf("no args: exit %d, want 2", code)
	}
	if _, _, code := runTool(t, filepath.Join("testdata", "does-not-exist.yaml")); code != 2 {
		t.Errorf("missing file: exit %d, want 2", code)
	}
	if _, _, code := runTool(t, "-no-such-flag", "x.yaml"); code != 2 {
		t.Errorf("bad flag: exit %d, want 2", code)
	}
}
