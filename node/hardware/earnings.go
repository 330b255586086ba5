package hardware

import "math"

// EstimateEarnings is what a provider could earn per day, in lamports (or SPL base units):
// tokPerSec tokens a second through layers layers for hoursPerDay hours, at
// pricePerKiloUnit per 1,000 units (a unit is one token through one layer). It rounds
// down, treats nonsense (negative, NaN) as zero, clamps hoursPerDay to 24 and saturates
// at the largest uint64.
func EstimateEarnings(tokPerSec float64, layers int, pricePerKiloUnit uint64, hoursPerDay float64) uint64 {
	if !(tokPerSec > 0) || layers <= 0 || pricePerKiloUnit == 0 || !(hoursPerDay > 0) {
		return 0
	}
	hours := math.Min(hoursPerDay, 24)
	if math.IsInf(tokPerSec, 1) {
		return math.MaxUint64
	}
	units := math.Floor(tokPerSec * hours * 3600 * float64(layers))
	amount := math.Floor(units * float64(pricePerKiloUnit) / 1000)
	if amount >= math.MaxUint64 { // float64(MaxUint64) rounds up to 2^64
		return math.MaxUint64
	}
	return uint64(amount)
}
