package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	"github.com/argoproj/argo-workflows/v3/workflow/validate"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"
)

const argoDefPrefix = "io.argoproj.workflow.v1alpha1."

type argoValidator struct {
	schemas map[string]*jsonschema.Schema // by kind

	// Templates given on the command line, for resolving workflowTemplateRef
	// and templateRef offline, as `argo lint --offline` does.
	templates        map[string]map[string]*wfv1.WorkflowTemplate // namespace -> name
	clusterTemplates map[string]*wfv1.ClusterWorkflowTemplate
}

var argoKinds = []string{"WorkflowTemplate", "ClusterWorkflowTemplate", "Workflow", "CronWorkflow"}

func newArgoValidator(docs []*document) (*argoValidator, error) {
	dir, err := moduleDir(argoModule)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "api", "jsonschema", "schema.json")
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("argo schema: %w", err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("argo schema %s: %w", path, err)
	}
	if err := patchArgoSchema(doc); err != nil {
		return nil, fmt.Errorf("argo schema %s: %w", path, err)
	}
	closeObjects(doc)

	c := jsonschema.NewCompiler()
	url := "file://" + filepath.ToSlash(path)
	if err := c.AddResource(url, doc); err != nil {
		return nil, fmt.Errorf("argo schema %s: %w", path, err)
	}
	av := &argoValidator{
		schemas:          map[string]*jsonschema.Schema{},
		templates:        map[string]map[string]*wfv1.WorkflowTemplate{},
		clusterTemplates: map[string]*wfv1.ClusterWorkflowTemplate{},
	}
	for _, kind := range argoKinds {
		sch, err := c.Compile(url + "#/definitions/" + argoDefPrefix + kind)
		if err != nil {
			return nil, fmt.Errorf("argo schema %s (%s): %w", path, kind, err)
		}
		av.schemas[kind] = sch
	}

	// Index the templates among the inputs (those that decode).
	for _, d := range docs {
		if d.err != nil || d.apiVersion != "argoproj.io/v1alpha1" {
			continue
		}
		switch d.kind {
		case "WorkflowTemplate":
			var t wfv1.WorkflowTemplate
			if yaml.Unmarshal(d.raw, &t) == nil && t.Name != "" {
				if av.templates[t.Namespace] == nil {
					av.templates[t.Namespace] = map[string]*wfv1.WorkflowTemplate{}
				}
				av.templates[t.Namespace][t.Name] = &t
			}
		case "ClusterWorkflowTemplate":
			var t wfv1.ClusterWorkflowTemplate
			if yaml.Unmarshal(d.raw, &t) == nil && t.Name != "" {
				av.clusterTemplates[t.Name] = &t
			}
		}
	}
	return av, nil
}

// patchArgoSchema corrects the few definitions of Argo's published schema
// that are narrower than what Argo's Go types (and so its API server)
// accept, so that valid manifests are not rejected:
//   - IntOrString is typed string only, but takes integers too;
//   - Quantity is typed string only, but takes numbers too;
//   - a parameter's value/default/enum/description (AnyString) and
//     valueFrom.default are typed string, but take numbers and booleans too.
func patchArgoSchema(doc any) error {
	root, _ := doc.(map[string]any)
	defs, _ := root["definitions"].(map[string]any)
	if defs == nil {
		return fmt.Errorf("no definitions")
	}
	setType := func(def string, types ...any) error {
		d, _ := defs[def].(map[string]any)
		if d == nil {
			return fmt.Errorf("no definition %s", def)
		}
		d["type"] = types
		return nil
	}
	if err := setType("io.k8s.apimachinery.pkg.util.intstr.IntOrString", "string", "integer"); err != nil {
		return err
	}
	if err := setType("io.k8s.apimachinery.pkg.api.resource.Quantity", "string", "number"); err != nil {
		return err
	}
	scalar := []any{"string", "number", "boolean"}
	prop := func(def, name string) (map[string]any, error) {
		d, _ := defs[argoDefPrefix+def].(map[string]any)
		props, _ := d["properties"].(map[string]any)
		p, _ := props[name].(map[string]any)
		if p == nil {
			return nil, fmt.Errorf("no property %s.%s", def, name)
		}
		return p, nil
	}
	for _, dp := range [][2]string{{"Parameter", "value"}, {"Parameter", "default"}, {"Parameter", "description"}, {"ValueFrom", "default"}} {
		p, err := prop(dp[0], dp[1])
		if err != nil {
			return err
		}
		if p["type"] == "string" {
			p["type"] = scalar
		}
	}
	enum, err := prop("Parameter", "enum")
	if err != nil {
		return err
	}
	if items, _ := enum["items"].(map[string]any); items != nil && items["type"] == "string" {
		items["type"] = scalar
	}
	return nil
}

func (av *argoValidator) validate(d *document) []string {
	reasons := validateJSON(av.schemas[d.kind], d.raw)

	wftGetter := &offlineTemplateGetter{templates: av.templates[d.namespace]}
	cwftGetter := &offlineClusterTemplateGetter{templates: av.clusterTemplates}
	var err error
	switch d.kind {
	case "WorkflowTemplate":
		var obj wfv1.WorkflowTemplate
		if err = yaml.UnmarshalStrict(d.raw, &obj); err == nil {
			// As the API server does on create.
			err = validate.ValidateWorkflowTemplate(wftGetter, cwftGetter, &obj, nil, validate.ValidateOpts{})
		} else {
			err = decodeError{err}
		}
	case "ClusterWorkflowTemplate":
		var obj wfv1.ClusterWorkflowTemplate
		if err = yaml.UnmarshalStrict(d.raw, &obj); err == nil {
			err = validate.ValidateClusterWorkflowTemplate(wftGetter, cwftGetter, &obj, nil, validate.ValidateOpts{})
		} else {
			err = decodeError{err}
		}
	case "Workflow":
		var obj wfv1.Workflow
		if err = yaml.UnmarshalStrict(d.raw, &obj); err == nil {
			// As `argo lint` does: arguments may still come at submission.
			err = validate.ValidateWorkflow(wftGetter, cwftGetter, &obj, nil, validate.ValidateOpts{Lint: true})
		} else {
			err = decodeError{err}
		}
	case "CronWorkflow":
		var obj wfv1.CronWorkflow
		if err = yaml.UnmarshalStrict(d.raw, &obj); err == nil {
			err = validate.ValidateCronWorkflow(context.Background(), wftGetter, cwftGetter, &obj, nil)
		} else {
			err = decodeError{err}
		}
	}
	if err != nil {
		if de, ok := err.(decodeError); ok {
			reasons = append(reasons, "decode: "+oneLine(de.err.Error()))
		} else {
			reasons = append(reasons, "argo: "+oneLine(err.Error()))
		}
	}
	return reasons
}

type decodeError struct{ err error }

func (e decodeError) Error() string { return e.err.Error() }

type offlineTemplateGetter struct {
	templates map[string]*wfv1.WorkflowTemplate
}

func (g *offlineTemplateGetter) Get(name string) (*wfv1.WorkflowTemplate, error) {
	if t, ok := g.templates[name]; ok {
		return t.DeepCopy(), nil
	}
	return nil, errors.NewNotFound(schema.GroupResource{Group: "argoproj.io", Resource: "workflowtemplates"},
		name+" (not among the files given)")
}

type offlineClusterTemplateGetter struct {
	templates map[string]*wfv1.ClusterWorkflowTemplate
}

func (g *offlineClusterTemplateGetter) Get(name string) (*wfv1.ClusterWorkflowTemplate, error) {
	if t, ok := g.templates[name]; ok {
		return t.DeepCopy(), nil
	}
	return nil, errors.NewNotFound(schema.GroupResource{Group: "argoproj.io", Resource: "clusterworkflowtemplates"},
		name+" (not among the files given)")
}
