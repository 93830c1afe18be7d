/* Leading JSON lines of plain numbers, straight from their bytes to columns of doubles.
 *
 * The fast path of the run-directory reader (see sweeptui/sources/columns.py). A training
 * loop writes its metric log as lines like {"step": 3, "loss": 0.25, "time": 1.7e9}: one
 * object per line, the same keys in the same order, every value a number. For such lines
 * this gives one array of doubles per key without making a Python object per line or
 * per value. It stops at the first line of any other shape and says how far it got; the
 * Python path reads the rest, and reads everything when this module is not built.
 *
 * A line is taken only when the standard library's JSON reader would give the same
 * numbers from it: a value is a JSON number or one of the tokens NaN, Infinity and
 * -Infinity; a key holds no escape and no control character; only spaces, tabs and
 * carriage returns stand between tokens. A number is converted by CPython's own
 * correctly rounded conversion (as float() does); an integer is taken as the double
 * nearest to it (as float(int) gives), so "-0" is 0.0; a number that overflows to an
 * infinity, or is too long to copy, ends the lines taken (the Python path decides).
 * Every read stays inside the buffer: a truncated or hostile block only ends the lines
 * taken early.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <math.h>
#include <string.h>

#define MAX_KEYS 256       /* keys per line at most; a wider line takes the Python path */
#define MAX_NUMBER 64      /* characters of one number at most (longer: the Python path) */

typedef struct {
    const char *start;
    Py_ssize_t size;
} Key;

static const char *skip_space(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\r'))
        p++;
    return p;
}

static int is_digit(char c) { return c >= '0' && c <= '9'; }

/* A key (p at its opening quote): where it ends, or NULL when it is not a plain key. */
static const char *read_key(const char *p, const char *end, Key *key)
{
    const char *start = ++p;
    while (p < end && *p != '"') {
        unsigned char c = (unsigned char)*p;
        if (c == '\\' || c < 0x20)
            return NULL;
        p++;
    }
    if (p >= end)
        return NULL;
    key->start = start;
    key->size = p - start;
    return p + 1;
}

static const double POWERS_OF_TEN[] = {
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

/* The double nearest to digits x 10^exponent when one IEEE operation on exact doubles
 * gives it (at most 15 significant digits, a power of ten up to 22: both factors are
 * exact, so the one rounding is the correct one); -1 when it takes the full conversion. */
static double exact_product(unsigned long long digits, int significant, long exponent)
{
    if (significant > 15 || exponent < -22 || exponent > 22)
        return -1.0;
    double mantissa = (double)digits;
    return exponent < 0 ? mantissa / POWERS_OF_TEN[-exponent] : mantissa * POWERS_OF_TEN[exponent];
}

/* A value: where it ends (its double in *out), or NULL when it is not one this takes. */
static const char *read_number(const char *p, const char *end, double *out)
{
    const char *start = p;
    int integral = 1, negative = 0, significant = 0;
    unsigned long long digits = 0;
    long exponent = 0;
    if (p < end && *p == 'N') {
        if (end - p >= 3 && memcmp(p, "NaN", 3) == 0) {
            *out = (double)NAN;
            return p + 3;
        }
        return NULL;
    }
    if (p < end && *p == '-') {
        negative = 1;
        p++;
    }
    if (p < end && *p == 'I') {
        if (end - p >= 8 && memcmp(p, "Infinity", 8) == 0) {
            *out = negative ? -(double)INFINITY : (double)INFINITY;
            return p + 8;
        }
        return NULL;
    }
    if (p >= end || !is_digit(*p))
        return NULL;
    if (*p == '0') {
        p++;
    } else {
        for (; p < end && is_digit(*p); p++, significant++)
            if (significant < 19)
                digits = digits * 10 + (unsigned long long)(*p - '0');
    }
    if (p < end && *p == '.') {
        integral = 0;
        p++;
        if (p >= end || !is_digit(*p))
            return NULL;
        for (; p < end && is_digit(*p); p++) {
            if (significant == 0 && *p == '0') {
                exponent--; /* a leading zero of the fraction: no significant digit */
                continue;
            }
            if (significant < 19)
                digits = digits * 10 + (unsigned long long)(*p - '0');
            significant++;
            exponent--;
        }
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        integral = 0;
        p++;
        int minus = 0;
        if (p < end && (*p == '+' || *p == '-'))
            minus = *p++ == '-';
        if (p >= end || !is_digit(*p))
            return NULL;
        long written = 0;
        for (; p < end && is_digit(*p); p++)
            if (written < 100000)
                written = written * 10 + (*p - '0');
        exponent += minus ? -written : written;
    }
    Py_ssize_t size = p - start;
    if (size >= MAX_NUMBER)
        return NULL;
    double value = digits == 0 ? 0.0 : exact_product(digits, significant, exponent);
    if (value < 0.0) {
        char text[MAX_NUMBER];
        memcpy(text, start, (size_t)size);
        text[size] = '\0';
        value = PyOS_string_to_double(text, NULL, NULL);
        if (value == -1.0 && PyErr_Occurred()) {
            PyErr_Clear();
            return NULL;
        }
        if (isinf(value))
            return NULL;
        *out = (integral && value == 0.0) ? 0.0 : value;
        return p;
    }
    /* an integer zero is 0.0 whatever its sign; a fraction keeps its sign (-0.0) */
    *out = negative && !(integral && value == 0.0) ? -value : value;
    return p;
}

/* One line's "key": value pairs after its opening brace, checked against the keys of the
 * first line (or, for the first line, collected as those keys). The values go to
 * row[0..count). Where the line ends (after its newline), or NULL when it is not taken. */
static const char *read_line(const char *p, const char *end, Key *keys, Py_ssize_t *count,
                             int first, double *row)
{
    p = skip_space(p, end);
    if (p >= end || *p != '{')
        return NULL;
    p = skip_space(p + 1, end);
    Py_ssize_t index = 0;
    for (;;) {
        if (p < end && *p == '}' && (first ? index > 0 : index == *count))
            break;
        if (!first && index == *count)
            return NULL;
        if (index > 0) {
            if (p >= end || *p != ',')
                return NULL;
            p = skip_space(p + 1, end);
        }
        if (p >= end || *p != '"')
            return NULL;
        Key key;
        p = read_key(p, end, &key);
        if (p == NULL)
            return NULL;
        if (first) {
            if (index == MAX_KEYS)
                return NULL;
            for (Py_ssize_t other = 0; other < index; other++)
                if (keys[other].size == key.size && memcmp(keys[other].start, key.start, (size_t)key.size) == 0)
                    return NULL; /* a repeated key: the Python path keeps the last value */
            keys[index] = key;
        } else if (keys[index].size != key.size || memcmp(keys[index].start, key.start, (size_t)key.size) != 0) {
            return NULL;
        }
        p = skip_space(p, end);
        if (p >= end || *p != ':')
            return NULL;
        p = skip_space(p + 1, end);
        double value;
        p = read_number(p, end, &value);
        if (p == NULL)
            return NULL;
        row[index] = value;
        index++;
        p = skip_space(p, end);
    }
    if (first)
        *count = index;
    p = skip_space(p + 1, end);
    if (p >= end || *p != '\n')
        return NULL;
    return p + 1;
}

static Py_ssize_t count_lines(const char *p, const char *end)
{
    Py_ssize_t lines = 0;
    while (p < end && (p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
        lines++;
        p++;
    }
    return lines;
}

PyDoc_STRVAR(leading_columns_doc,
"leading_columns(data, /)\n--\n\n"
"The leading lines of ``data`` (complete lines of JSON) that are objects with the first\n"
"line's keys, in its order, holding plain numbers: ``(keys, values, lines, size)``, the\n"
"keys as str, ``values`` the doubles of each key in turn (``lines`` of each, key after\n"
"key, native order), and ``size`` the bytes those lines take. None when not even the\n"
"first line is such an object.");

static PyObject *leading_columns(PyObject *Py_UNUSED(module), PyObject *arg)
{
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0)
        return NULL;
    const char *start = view.buf, *end = start + view.len;
    Key keys[MAX_KEYS];
    double row[MAX_KEYS];
    Py_ssize_t count = 0;
    PyObject *result = NULL, *names = NULL, *values = NULL;
    const char *p = read_line(start, end, keys, &count, 1, row);
    if (p == NULL) {
        PyBuffer_Release(&view);
        Py_RETURN_NONE;
    }
    /* Rows for the first line and every one that could follow, but no more than the
     * bytes could hold (a line of count keys takes at least 5 x count + 2 of them): a
     * wide first line over millions of blank ones must not ask for gigabytes. */
    Py_ssize_t room = 1 + count_lines(p, end);
    Py_ssize_t fits = 1 + (end - p) / (5 * count + 2);
    if (fits < room)
        room = fits;
    if (room > PY_SSIZE_T_MAX / (Py_ssize_t)sizeof(double) / count) {
        PyErr_NoMemory();
        goto done;
    }
    double *columns = PyMem_Malloc((size_t)(room * count) * sizeof(double));
    if (columns == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    Py_ssize_t lines = 0;
    const char *taken = start;
    while (p != NULL && lines < room) { /* row holds the values of the line ending at p */
        for (Py_ssize_t index = 0; index < count; index++)
            columns[index * room + lines] = row[index];
        lines++;
        taken = p;
        p = p < end ? read_line(p, end, keys, &count, 0, row) : NULL;
    }
    values = PyBytes_FromStringAndSize(NULL, lines * count * (Py_ssize_t)sizeof(double));
    names = PyTuple_New(count);
    if (values == NULL || names == NULL) {
        PyMem_Free(columns);
        goto done;
    }
    char *out = PyBytes_AS_STRING(values);
    for (Py_ssize_t index = 0; index < count; index++) {
        memcpy(out + index * lines * (Py_ssize_t)sizeof(double), columns + index * room,
               (size_t)lines * sizeof(double));
        PyObject *name = PyUnicode_DecodeUTF8(keys[index].start, keys[index].size, "strict");
        if (name == NULL) { /* not UTF-8: the Python path warns about the line */
            PyErr_Clear();
            PyMem_Free(columns);
            Py_INCREF(Py_None);
            result = Py_None;
            goto done;
        }
        PyTuple_SET_ITEM(names, index, name);
    }
    PyMem_Free(columns);
    result = Py_BuildValue("(OOnn)", names, values, lines, (Py_ssize_t)(taken - start));
done:
    Py_XDECREF(names);
    Py_XDECREF(values);
    PyBuffer_Release(&view);
    return result;
}

static PyMethodDef methods[] = {
    {"leading_columns", leading_columns, METH_O, leading_columns_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    .m_base = PyModuleDef_HEAD_INIT,
    .m_name = "_jsonl_columns",
    .m_doc = "Leading JSON lines of plain numbers read straight into columns of doubles.",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC PyInit__jsonl_columns(void)
{
    return PyModule_Create(&module);
}
