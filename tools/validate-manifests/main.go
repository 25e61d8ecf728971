// Command validate-manifests checks Kubernetes YAML manifests of Tekton and
// Argo Workflows kinds offline, with the engines' own rules at the versions
// pinned in go.mod:
//
//   - a structural check against the schema the engine ships (Tekton's CRD
//     openAPIV3Schema, Argo's api/jsonschema/schema.json), with every object
//     closed so that a misspelt field is an error;
//   - a strict decode into the engine's Go type (unknown fields rejected);
//   - the engine's own Go validation (Tekton's Validate(ctx) after defaulting,
//     as its admission webhook does; Argo's workflow/validate package, as its
//     API server and `argo lint --offline` do).
//
// Usage: validate-manifests [flags] FILE.yaml [FILE.yaml ...]
//
// Output is one line per YAML document: "OK <file> <kind>/<name>" or
// "FAIL <file> <kind>/<name>: <reasons>". Exit status: 0 when every document
// is OK, 1 when any fails, 2 on a usage error or when the tool cannot run
// (unreadable file, engine schema files not found).
package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	k8syaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// document is one YAML document of an input file.
type document struct {
	file  string
	index int    // 0-based position in the file
	raw   []byte // JSON form of the document
	err   error  // set when the document could not be parsed

	apiVersion, kind, name, namespace string
}

func (d *document) label() string {
	kind, name := d.kind, d.name
	if kind == "" {
		kind = "?"
	}
	if name == "" {
		name = fmt.Sprintf("#%d", d.index+1)
	}
	return kind + "/" + name
}

// result is the outcome for one document.
type result struct {
	doc     *document
	reasons []string
}

func (r result) ok() bool { return len(r.reasons) == 0 }

func (r result) String() string {
	if r.ok() {
		return fmt.Sprintf("OK %s %s", r.doc.file, r.doc.label())
	}
	return fmt.Sprintf("FAIL %s %s: %s", r.doc.file, r.doc.label(), strings.Join(r.reasons, "; "))
}

// options tune the validation context.
type options struct {
	// tektonAPIFields is the value of Tekton's "enable-api-fields" feature flag.
	tektonAPIFields string
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("validate-manifests", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var opts options
	fs.StringVar(&opts.tektonAPIFields, "tekton-api-fields", "beta",
		`Tekton "enable-api-fields" feature flag used for validation: stable, beta or alpha`)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: validate-manifests [flags] FILE.yaml [FILE.yaml ...]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return 2
	}

	// Read and split every file first: a missing file is a usage error, and
	// Argo template references are resolved across all given files.
	var docs []*document
	for _, file := range fs.Args() {
		data, err := os.ReadFile(file)
		if err != nil {
			fmt.Fprintf(stderr, "validate-manifests: %v\n", err)
			return 2
		}
		fileDocs := splitDocuments(file, data)
		if len(fileDocs) == 0 {
			fileDocs = []*document{{file: file, err: errors.New("no YAML documents in file")}}
		}
		docs = append(docs, fileDocs...)
	}

	v, err := newValidator(opts, docs)
	if err != nil {
		fmt.Fprintf(stderr, "validate-manifests: %v\n", err)
		return 2
	}

	status := 0
	for _, d := range docs {
		r := v.validate(d)
		fmt.Fprintln(stdout, r.String())
		if !r.ok() {
			status = 1
		}
	}
	return status
}

// splitDocuments splits a multi-document YAML file and reads each document's
// type and name. Documents that are empty (only comments or whitespace) are
// skipped.
func splitDocuments(file string, data []byte) []*document {
	var docs []*document
	for i, part := range splitYAML(data) {
		if isBlankYAML(part) {
			continue
		}
		d := &document{file: file, index: i}
		docs = append(docs, d)
		// YAMLToJSONStrict rejects duplicate keys, as a strict API server does.
		js, err := yaml.YAMLToJSONStrict(part)
		if err != nil {
			d.err = fmt.Errorf("invalid YAML: %v", err)
			continue
		}
		d.raw = js
		var head struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
			Metadata   struct {
				Name         string `json:"name"`
				GenerateName string `json:"generateName"`
				Namespace    string `json:"namespace"`
			} `json:"metadata"`
		}
		if t := bytes.TrimSpace(js); len(t) == 0 || t[0] != '{' {
			d.err = errors.New("document is not a YAML mapping")
			continue
		}
		if err := yaml.Unmarshal(js, &head); err != nil {
			d.err = fmt.Errorf("cannot read apiVersion/kind/metadata: %v", oneLine(err.Error()))
			continue
		}
		d.apiVersion, d.kind, d.namespace = head.APIVersion, head.Kind, head.Metadata.Namespace
		d.name = head.Metadata.Name
		if d.name == "" {
			d.name = head.Metadata.GenerateName
		}
	}
	return docs
}

// splitYAML splits a YAML stream into documents the way kubectl does.
func splitYAML(data []byte) [][]byte {
	var parts [][]byte
	r := k8syaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for {
		part, err := r.Read()
		if err != nil { // io.EOF: reading from memory cannot fail otherwise
			break
		}
		parts = append(parts, part)
	}
	return parts
}

func isBlankYAML(part []byte) bool {
	for _, line := range strings.Split(string(part), "\n") {
		l := strings.TrimSpace(line)
		if l != "" && !strings.HasPrefix(l, "#") && !strings.HasPrefix(l, "%") {
			return false
		}
	}
	return true
}

// validator dispatches documents to the engine-specific checks.
type validator struct {
	opts   options
	tekton *tektonValidator
	argo   *argoValidator
}

func newValidator(opts options, docs []*document) (*validator, error) {
	v := &validator{opts: opts}
	needTekton, needArgo := false, false
	for _, d := range docs {
		switch {
		case strings.HasPrefix(d.apiVersion, "tekton.dev/"):
			needTekton = true
		case strings.HasPrefix(d.apiVersion, "argoproj.io/"):
			needArgo = true
		}
	}
	var err error
	if needTekton {
		if v.tekton, err = newTektonValidator(opts); err != nil {
			return nil, err
		}
	}
	if needArgo {
		if v.argo, err = newArgoValidator(docs); err != nil {
			return nil, err
		}
	}
	return v, nil
}

func (v *validator) validate(d *document) result {
	r := result{doc: d}
	if d.err != nil {
		r.reasons = []string{d.err.Error()}
		return r
	}
	var reasons []string
	switch gvk := d.apiVersion + " " + d.kind; gvk {
	case "tekton.dev/v1 Task", "tekton.dev/v1beta1 StepAction":
		reasons = v.tekton.validate(d)
	case "argoproj.io/v1alpha1 WorkflowTemplate", "argoproj.io/v1alpha1 Workflow",
		"argoproj.io/v1alpha1 ClusterWorkflowTemplate", "argoproj.io/v1alpha1 CronWorkflow":
		reasons = v.argo.validate(d)
	default:
		reasons = []string{fmt.Sprintf("unsupported apiVersion/kind %q/%q (supported: tekton.dev/v1 Task, tekton.dev/v1beta1 StepAction, argoproj.io/v1alpha1 WorkflowTemplate, ClusterWorkflowTemplate, Workflow, CronWorkflow)", d.apiVersion, d.kind)}
	}
	r.reasons = reasons
	return r
}

// oneLine folds a possibly multi-line error message into one line.
func oneLine(s string) string {
	var parts []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			parts = append(parts, l)
		}
	}
	return strings.Join(parts, " | ")
}
