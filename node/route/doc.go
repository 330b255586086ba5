// Package route plans a chain of stages covering a model's layers and fails over when a provider dies.
package route
