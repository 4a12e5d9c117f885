package engine

import (
	"fmt"
	"math"
	"time"

	"github.com/openrender/openrender/internal/fetch"
	"github.com/openrender/openrender/template"
	"github.com/openrender/openrender/template/policy"
)

// Validation is what a valid request would run.
type Validation struct {
	// Argv holds one full argv per step, program name first, with each
	// placeholder replaced by the work-directory path the engine gives
	// it: in/<alias><ext of the URL> for inputs, out/<file name> for
	// outputs.
	Argv [][]string

	runSeconds float64
}

// Validate checks req exactly as Submit does and runs nothing. Invalid
// requests return a *ValidationError naming every problem; the HTTP API's
// validate-ffmpeg-command endpoint answers with it.
func (e *Engine) Validate(req SubmitRequest) (*Validation, error) {
	spec := template.Spec{
		Commands:     req.commands(),
		CommandField: req.commandField(),
		InputFiles:   req.InputFiles,
		OutputFiles:  req.OutputFiles,
	}
	var problems template.Errors
	tmpl, err := template.Parse(spec)
	if err != nil {
		errs, ok := err.(template.Errors)
		if !ok {
			return nil, err
		}
		problems = append(problems, errs...)
	} else {
		// The allow-list reads the words Parse built, where placeholders
		// are known, so it can tell {{in_subs}} from a literal path.
		problems = append(problems, policy.Check(tmpl, spec.CommandField)...)
	}
	problems = append(problems, checkSetOutputs(req.OutputFiles, "output_files")...)
	problems = append(problems, e.checkInputURLs(req.InputFiles)...)
	problems = append(problems, checkMetadata(req.Metadata)...)
	if req.WebhookURL != "" {
		if err := fetch.CheckURL(req.WebhookURL, e.cfg.AllowPrivateURLs); err != nil {
			problems = append(problems, template.NewFieldError(err.Error(), "body", "webhook_url"))
		}
	}
	runSeconds := e.cfg.DefaultRunTimeout.Seconds()
	if v := req.MaxRunSeconds; v != nil {
		max := e.cfg.MaxRunTimeout.Seconds()
		if math.IsNaN(*v) || *v <= 0 || *v > max {
			problems = append(problems, template.NewFieldError(
				fmt.Sprintf("max_command_run_seconds must be more than 0 and at most %g", max),
				"body", "max_command_run_seconds"))
		}
		runSeconds = *v
	}
	if len(problems) > 0 {
		return nil, &ValidationError{Problems: problems}
	}

	paths := plannedPaths(req.InputFiles, req.OutputFiles)
	v := &Validation{runSeconds: runSeconds}
	// The argv exactly as a run builds it, engine-injected arguments and
	// all (the CPU limit is that of a first step with the whole budget).
	cpuSeconds := cpuSecondsFor(time.Duration(runSeconds * float64(time.Second)))
	argvs, err := stepArgvs(tmpl, paths)
	if err != nil {
		return nil, err
	}
	for _, argv := range argvs {
		v.Argv = append(v.Argv, append([]string{"ffmpeg"}, withEngineArgs(argv, cpuSeconds, e.cfg.MaxPixels)...))
	}
	return v, nil
}

// plannedPaths gives each alias the path, relative to the work directory,
// that a run will substitute for it (see downloadInputs and run).
func plannedPaths(inputs, outputs map[string]string) map[string]string {
	paths := make(map[string]string, len(inputs)+len(outputs))
	for alias, url := range inputs {
		paths[alias] = inDir + "/" + alias + inputExtension(url)
	}
	for alias, name := range outputs {
		paths[alias] = outDir + "/" + name
	}
	return paths
}
