// Package catalog lists recommended models, downloads them and keeps the local model store.
package catalog
