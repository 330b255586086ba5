package hardware

import "context"

// CPUModel is the processor's model name ("" when it cannot be read).
func CPUModel(ctx context.Context) string { return staticCPU(ctx).Model }
