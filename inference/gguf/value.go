package gguf

import (
	"fmt"
)

// ValueType is the type tag of a GGUF metadata value.
type ValueType uint32

// GGUF metadata value types.
const (
	TypeUint8   ValueType = 0
	TypeInt8    ValueType = 1
	TypeUint16  ValueType = 2
	TypeInt16   ValueType = 3
	TypeUint32  ValueType = 4
	TypeInt32   ValueType = 5
	TypeFloat32 ValueType = 6
	TypeBool    ValueType = 7
	TypeString  ValueType = 8
	TypeArray   ValueType = 9
	TypeUint64  ValueType = 10
	TypeInt64   ValueType = 11
	TypeFloat64 ValueType = 12
)

var valueTypeNames = [...]string{"uint8", "int8", "uint16", "int16", "uint32", "int32", "float32", "bool", "string", "array", "uint64", "int64", "float64"}

func (t ValueType) String() string {
	if int(t) < len(valueTypeNames) {
		return valueTypeNames[t]
	}
	return fmt.Sprintf("valuetype(%d)", uint32(t))
}

// size is the encoded size of a scalar of type t, 0 for string and array.
func (t ValueType) size() int {
	switch t {
	case TypeUint8, TypeInt8, TypeBool:
		return 1
	case TypeUint16, TypeInt16:
		return 2
	case TypeUint32, TypeInt32, TypeFloat32:
		return 4
	case TypeUint64, TypeInt64, TypeFloat64:
		return 8
	}
	return 0
}

// Value is one metadata value. Scalars hold the Go type of their tag (uint8,
// int8, …, float64, bool, string). Arrays hold a typed slice ([]uint8, []int32,
// []float32, []string, …) or, for arrays of arrays, []Value.
type Value struct {
	Type     ValueType // tag of the value
	ElemType ValueType // element tag when Type is TypeArray
	v        any
}

// Any returns the value as its Go type (see Value).
func (v Value) Any() any { return v.v }

// NewValue wraps a Go value in a Value, picking the tag from its type.
// It accepts the scalar and slice types listed on Value; anything else is a
// programmer error and panics.
func NewValue(x any) Value {
	switch x := x.(type) {
	case uint8:
		return Value{Type: TypeUint8, v: x}
	case int8:
		return Value{Type: TypeInt8, v: x}
	case uint16:
		return Value{Type: TypeUint16, v: x}
	case int16:
		return Value{Type: TypeInt16, v: x}
	case uint32:
		return Value{Type: TypeUint32, v: x}
	case int32:
		return Value{Type: TypeInt32, v: x}
	case float32:
		return Value{Type: TypeFloat32, v: x}
	case bool:
		return Value{Type: TypeBool, v: x}
	case string:
		return Value{Type: TypeString, v: x}
	case uint64:
		return Value{Type: TypeUint64, v: x}
	case int64:
		return Value{Type: TypeInt64, v: x}
	case float64:
		return Value{Type: TypeFloat64, v: x}
	case []uint8:
		return Value{Type: TypeArray, ElemType: TypeUint8, v: x}
	case []int8:
		return Value{Type: TypeArray, ElemType: TypeInt8, v: x}
	case []uint16:
		return Value{Type: TypeArray, ElemType: TypeUint16, v: x}
	case []int16:
		return Value{Type: TypeArray, ElemType: TypeInt16, v: x}
	case []uint32:
		return Value{Type: TypeArray, ElemType: TypeUint32, v: x}
	case []int32:
		return Value{Type: TypeArray, ElemType: TypeInt32, v: x}
	case []float32:
		return Value{Type: TypeArray, ElemType: TypeFloat32, v: x}
	case []bool:
		return Value{Type: TypeArray, ElemType: TypeBool, v: x}
	case []string:
		return Value{Type: TypeArray, ElemType: TypeString, v: x}
	case []uint64:
		return Value{Type: TypeArray, ElemType: TypeUint64, v: x}
	case []int64:
		return Value{Type: TypeArray, ElemType: TypeInt64, v: x}
	case []float64:
		return Value{Type: TypeArray, ElemType: TypeFloat64, v: x}
	case []Value:
		return Value{Type: TypeArray, ElemType: TypeArray, v: x}
	case Value:
		return x
	}
	panic(fmt.Sprintf("gguf: no metadata type for %T", x))
}

// Len is the number of elements of an array value, 0 for scalars.
func (v Value) Len() int {
	if v.Type != TypeArray {
		return 0
	}
	switch a := v.v.(type) {
	case []uint8:
		return len(a)
	case []int8:
		return len(a)
	case []uint16:
		return len(a)
	case []int16:
		return len(a)
	case []uint32:
		return len(a)
	case []int32:
		return len(a)
	case []float32:
		return len(a)
	case []bool:
		return len(a)
	case []string:
		return len(a)
	case []uint64:
		return len(a)
	case []int64:
		return len(a)
	case []float64:
		return len(a)
	case []Value:
		return len(a)
	}
	return 0
}

// Uint returns an integer scalar as uint64; ok is false for other types or
// negative values.
func (v Value) Uint() (uint64, bool) {
	switch x := v.v.(type) {
	case uint8:
		return uint64(x), true
	case uint16:
		return uint64(x), true
	case uint32:
		return uint64(x), true
	case uint64:
		return x, true
	case int8, int16, int32, int64:
		i, _ := v.Int()
		if i < 0 {
			return 0, false
		}
		return uint64(i), true
	}
	return 0, false
}

// Int returns an integer scalar as int64; ok is false for other types or
// values that overflow int64.
func (v Value) Int() (int64, bool) {
	switch x := v.v.(type) {
	case int8:
		return int64(x), true
	case int16:
		return int64(x), true
	case int32:
		return int64(x), true
	case int64:
		return x, true
	case uint8:
		return int64(x), true
	case uint16:
		return int64(x), true
	case uint32:
		return int64(x), true
	case uint64:
		if x > 1<<63-1 {
			return 0, false
		}
		return int64(x), true
	}
	return 0, false
}

// Float returns a numeric scalar as float64.
func (v Value) Float() (float64, bool) {
	switch x := v.v.(type) {
	case float32:
		return float64(x), true
	case float64:
		return x, true
	}
	if i, ok := v.Int(); ok {
		return float64(i), true
	}
	if u, ok := v.Uint(); ok {
		return float64(u), true
	}
	return 0, false
}

// Str returns a string scalar.
func (v Value) Str() (string, bool) {
	s, ok := v.v.(string)
	return s, ok
}

// Bool returns a bool scalar.
func (v Value) Bool() (bool, bool) {
	b, ok := v.v.(bool)
	return b, ok
}
