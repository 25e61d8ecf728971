package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/tektoncd/pipeline/pkg/apis/config"
	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	"github.com/tektoncd/pipeline/pkg/apis/pipeline/v1beta1"
	"knative.dev/pkg/apis"
	"sigs.k8s.io/yaml"
)

// tektonKind names a Tekton kind, the CRD file that defines it and the CRD
// version whose schema applies.
type tektonKind struct {
	apiVersion, kind, crdFile, version string
}

var tektonKinds = []tektonKind{
	{"tekton.dev/v1", "Task", "300-task.yaml", "v1"},
	{"tekton.dev/v1beta1", "StepAction", "300-stepaction.yaml", "v1beta1"},
}

type tektonValidator struct {
	ctx     context.Context
	schemas map[string]*jsonschema.Schema // by "apiVersion kind"
}

func newTektonValidator(opts options) (*tektonValidator, error) {
	ctx, err := tektonContext(opts)
	if err != nil {
		return nil, err
	}
	dir, err := moduleDir(tektonModule)
	if err != nil {
		return nil, err
	}
	tv := &tektonValidator{ctx: ctx, schemas: map[string]*jsonschema.Schema{}}
	for _, k := range tektonKinds {
		path := filepath.Join(dir, "config", "300-crds", k.crdFile)
		sch, err := compileCRDSchema(path, k.version)
		if err != nil {
			return nil, err
		}
		tv.schemas[k.apiVersion+" "+k.kind] = sch
	}
	return tv, nil
}

// tektonContext builds the context Tekton's admission webhook validates in:
// the pipeline configuration (config-defaults, feature-flags, ...) at its
// defaults, except "enable-api-fields", and the "create" operation.
//
// With Tekton's defaults "enable-api-fields" is "beta", which admits the beta
// fields; StepActions (and step refs/params/results) are stable in this
// Tekton version, so they need no flag.
func tektonContext(opts options) (context.Context, error) {
	switch opts.tektonAPIFields {
	case config.StableAPIFields, config.BetaAPIFields, config.AlphaAPIFields:
	default:
		return nil, fmt.Errorf("invalid -tekton-api-fields %q: want %s, %s or %s",
			opts.tektonAPIFields, config.StableAPIFields, config.BetaAPIFields, config.AlphaAPIFields)
	}
	flags, err := config.NewFeatureFlagsFromMap(map[string]string{
		"enable-api-fields": opts.tektonAPIFields,
	})
	if err != nil {
		return nil, fmt.Errorf("tekton feature flags: %w", err)
	}
	cfg := config.FromContextOrDefaults(context.Background()) // a fresh copy of every default
	cfg.FeatureFlags = flags
	ctx := config.ToContext(context.Background(), cfg)
	return apis.WithinCreate(ctx), nil
}

// compileCRDSchema reads a CustomResourceDefinition file and compiles the
// openAPIV3Schema of one of its versions, with every object closed.
func compileCRDSchema(path, version string) (*jsonschema.Schema, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("tekton CRD: %w", err)
	}
	var crd struct {
		Spec struct {
			Versions []struct {
				Name   string `json:"name"`
				Schema struct {
					OpenAPIV3Schema map[string]any `json:"openAPIV3Schema"`
				} `json:"schema"`
			} `json:"versions"`
		} `json:"spec"`
	}
	if err := yaml.Unmarshal(data, &crd); err != nil {
		return nil, fmt.Errorf("tekton CRD %s: %w", path, err)
	}
	var schema map[string]any
	for _, v := range crd.Spec.Versions {
		if v.Name == version {
			schema = v.Schema.OpenAPIV3Schema
		}
	}
	if schema == nil {
		return nil, fmt.Errorf("tekton CRD %s: no openAPIV3Schema for version %s", path, version)
	}
	closeObjects(schema)
	// Re-read through the library's own decoder, so numbers are json.Number.
	schemaDoc, err := toJSONValue(schema)
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	url := "file://" + filepath.ToSlash(path) + "/" + version
	if err := c.AddResource(url, schemaDoc); err != nil {
		return nil, fmt.Errorf("tekton CRD %s: %w", path, err)
	}
	sch, err := c.Compile(url)
	if err != nil {
		return nil, fmt.Errorf("tekton CRD %s (%s): %w", path, version, err)
	}
	return sch, nil
}

func (tv *tektonValidator) validate(d *document) []string {
	reasons := validateJSON(tv.schemas[d.apiVersion+" "+d.kind], d.raw)

	// Strict decode into the Go type, then default and validate as the
	// webhook does (the defaulting webhook runs before the validating one).
	var obj interface {
		SetDefaults(context.Context)
		Validate(context.Context) *apis.FieldError
	}
	switch d.kind {
	case "Task":
		obj = &v1.Task{}
	case "StepAction":
		obj = &v1beta1.StepAction{}
	}
	if err := yaml.UnmarshalStrict(d.raw, obj); err != nil {
		return append(reasons, "decode: "+oneLine(err.Error()))
	}
	obj.SetDefaults(tv.ctx)
	// Warnings do not block admission; only errors count.
	if ferr := obj.Validate(tv.ctx).Filter(apis.ErrorLevel); ferr != nil {
		for _, e := range ferr.WrappedErrors() {
			reasons = append(reasons, "tekton: "+oneLine(e.Error()))
		}
	}
	return reasons
}
