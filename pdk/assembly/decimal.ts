// Decimal text to f64, correctly rounded (to nearest, ties to even).
//
// AssemblyScript's parseFloat is not: it returns 9.02210662960773e+37 for "9.022106629607731e+39"
// and is an ulp off for "1e23". Short numbers take Clinger's fast path (exact integer times an
// exact power of ten: one rounding). Others start from a close estimate and step it by one ulp
// until exact big-integer arithmetic shows the decimal value lies within half an ulp of it.

/** Significant digits kept. A halfway point between two doubles has at most 767; a nonzero tail beyond becomes a final digit 1. */
const MAX_DIGITS: i32 = 768;
/** Exponents are clamped here: anything beyond is 0 or Infinity anyway, and this keeps i32 arithmetic safe. */
const MAX_EXPONENT: i32 = 100000;

/** Powers of ten that a double holds exactly. */
const EXACT_POWERS: StaticArray<f64> = [
  1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
  1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/** Digit buffer, reused: parsing is never re-entered. */
const scratch = new Uint8Array(MAX_DIGITS + 1);

/**
 * The double nearest to the JSON number in units `start` to `end` of the text at `base`: UTF-16
 * units (T = u16) or UTF-8 bytes (T = u8). The caller has checked the grammar:
 * `-? digits (. digits)? ([eE] [+-]? digits)?`.
 */
export function parseDecimal<T>(base: usize, start: i32, end: i32): f64 {
  let i = start;
  const negative = unitAt<T>(base, i) == 0x2d;
  if (negative) i++;

  // value = digits × 10^exponent, digits without leading zeros
  const digits = scratch;
  let count = 0;
  let exponent = 0;
  let afterPoint = false;
  let sticky = false;
  for (; i < end; i++) {
    const c = unitAt<T>(base, i);
    if (c == 0x2e) {
      afterPoint = true;
      continue;
    }
    if ((c | 0x20) == 0x65) break; // e or E
    const digit = c - 0x30;
    if (count == 0 && digit == 0) {
      if (afterPoint) exponent--;
      continue;
    }
    if (count < MAX_DIGITS) {
      digits[count++] = <u8>digit;
      if (afterPoint) exponent--;
    } else {
      if (digit != 0) sticky = true;
      if (!afterPoint) exponent++;
    }
  }
  if (i < end) {
    i++; // e
    let expNegative = false;
    const sign = unitAt<T>(base, i);
    if (sign == 0x2b || sign == 0x2d) {
      expNegative = sign == 0x2d;
      i++;
    }
    let written = 0;
    for (; i < end; i++) written = min(written * 10 + (unitAt<T>(base, i) - 0x30), MAX_EXPONENT);
    exponent += expNegative ? -written : written;
  }
  if (sticky) {
    digits[count++] = 1;
    exponent--;
  }
  while (count > 0 && digits[count - 1] == 0) {
    count--;
    exponent++;
  }

  const magnitude = positiveDecimal(digits, count, exponent);
  return negative ? -magnitude : magnitude;
}

// @ts-ignore: decorator
@inline
function unitAt<T>(base: usize, i: i32): i32 {
  return <i32>load<T>(base + (<usize>i << alignof<T>()));
}

function positiveDecimal(digits: Uint8Array, count: i32, exponent: i32): f64 {
  if (count == 0) return 0;
  // 10^(count+exponent-1) <= value < 10^(count+exponent)
  if (count + exponent > 310) return Infinity;
  if (count + exponent < -324) return 0;

  if (count <= 15) {
    let m: f64 = 0;
    for (let k = 0; k < count; k++) m = m * 10 + <f64>digits[k];
    if (exponent >= -22 && exponent <= 22) {
      return exponent < 0 ? m / EXACT_POWERS[-exponent] : m * EXACT_POWERS[exponent];
    }
    // m × 10^(exponent-22) still below 10^15: exact, so only the last product rounds
    if (exponent > 22 && exponent - 22 <= 15 - count) return m * EXACT_POWERS[exponent - 22] * 1e22;
  }

  const taken = min(count, 19);
  let leading: u64 = 0;
  for (let k = 0; k < taken; k++) leading = leading * 10 + <u64>digits[k];
  let x = estimate(<f64>leading, exponent + (count - taken));
  if (!isFinite(x)) x = F64.MAX_VALUE;

  const value = Big.fromDigits(digits, count);
  for (let step = 0; step < 64; step++) {
    const up = nextUp(x);
    const aboveUp = compareToMidpoint(value, exponent, x, up);
    if (aboveUp > 0 || (aboveUp == 0 && isOdd(x))) {
      if (!isFinite(up)) return Infinity;
      x = up;
      continue;
    }
    if (x > 0) {
      const down = nextDown(x);
      const belowDown = compareToMidpoint(value, exponent, down, x);
      if (belowDown < 0 || (belowDown == 0 && isOdd(x))) {
        x = down;
        continue;
      }
    }
    break;
  }
  return x;
}

/** m × 10^k in a few roundings, kept clear of overflow and underflow in between. */
function estimate(m: f64, k: i32): f64 {
  if (k > 300) return m * Math.pow(10, k - 300) * 1e300;
  if (k < -300) return m * Math.pow(10, k + 300) * 1e-300;
  return m * Math.pow(10, k);
}

function nextUp(x: f64): f64 {
  return reinterpret<f64>(reinterpret<u64>(x) + 1);
}

function nextDown(x: f64): f64 {
  return reinterpret<f64>(reinterpret<u64>(x) - 1);
}

function isOdd(x: f64): bool {
  return (reinterpret<u64>(x) & 1) != 0;
}

/** Integer significand of a positive double (Infinity counts as 2^1024). */
function significand(x: f64): u64 {
  const bits = reinterpret<u64>(x);
  const biased = <i32>(bits >> 52);
  const fraction = bits & 0xfffffffffffff;
  return biased == 0 ? fraction : fraction | 0x10000000000000;
}

/** Its power of two: x = significand(x) × 2^binaryExponent(x). */
function binaryExponent(x: f64): i32 {
  const biased = <i32>(reinterpret<u64>(x) >> 52);
  return biased == 0 ? -1074 : biased - 1075;
}

/** Sign of digits × 10^exponent − (a + b) / 2, for neighbouring doubles a < b. */
function compareToMidpoint(value: Big, exponent: i32, a: f64, b: f64): i32 {
  const ea = binaryExponent(a);
  const eb = binaryExponent(b);
  const common = min(ea, eb);
  // (a + b) / 2 = sum × 2^(common-1); the shifts are at most 1, so sum fits in 55 bits
  const sum = (significand(a) << <u64>(ea - common)) + (significand(b) << <u64>(eb - common));
  const left = value.copy();
  const right = Big.fromU64(sum);
  // value × 10^exponent = value × 5^exponent × 2^exponent; for a negative exponent, both sides
  // are multiplied by 5^-exponent instead
  if (exponent >= 0) left.mulPow5(exponent);
  else right.mulPow5(-exponent);
  const leftTwos = exponent;
  const rightTwos = common - 1;
  if (leftTwos > rightTwos) left.shiftLeft(leftTwos - rightTwos);
  else right.shiftLeft(rightTwos - leftTwos);
  return left.compare(right);
}

/** A non-negative big integer: little-endian 32-bit limbs. Just what the comparison needs. */
class Big {
  limbs: Array<u32> = new Array<u32>();

  static fromU64(n: u64): Big {
    const big = new Big();
    while (n != 0) {
      big.limbs.push(<u32>n);
      n >>= 32;
    }
    return big;
  }

  static fromDigits(digits: Uint8Array, count: i32): Big {
    const big = new Big();
    let k = 0;
    // nine digits at a time: 10^9 fits a limb
    while (k < count) {
      const take = min(9, count - k);
      let chunk: u32 = 0;
      let scale: u32 = 1;
      for (let j = 0; j < take; j++) {
        chunk = chunk * 10 + <u32>digits[k + j];
        scale *= 10;
      }
      big.mulAdd(scale, chunk);
      k += take;
    }
    return big;
  }

  copy(): Big {
    const big = new Big();
    big.limbs = this.limbs.slice();
    return big;
  }

  /** this = this × factor + addend */
  mulAdd(factor: u32, addend: u32): void {
    let carry: u64 = addend;
    const limbs = this.limbs;
    for (let i = 0; i < limbs.length; i++) {
      const product = <u64>limbs[i] * factor + carry;
      limbs[i] = <u32>product;
      carry = product >> 32;
    }
    if (carry != 0) limbs.push(<u32>carry);
  }

  mulPow5(power: i32): void {
    // 5^13 is the largest power of five below 2^32
    while (power >= 13) {
      this.mulAdd(1220703125, 0);
      power -= 13;
    }
    let rest: u32 = 1;
    for (let i = 0; i < power; i++) rest *= 5;
    if (rest > 1) this.mulAdd(rest, 0);
  }

  shiftLeft(bits: i32): void {
    const limbs = this.limbs;
    if (limbs.length == 0 || bits == 0) return;
    const whole = bits >> 5;
    const part = bits & 31;
    if (part != 0) {
      let carry: u32 = 0;
      for (let i = 0; i < limbs.length; i++) {
        const limb = limbs[i];
        limbs[i] = (limb << part) | carry;
        carry = limb >> (32 - part);
      }
      if (carry != 0) limbs.push(carry);
    }
    if (whole > 0) {
      const shifted = new Array<u32>(whole);
      this.limbs = shifted.concat(limbs);
    }
  }

  compare(other: Big): i32 {
    const a = this.limbs;
    const b = other.limbs;
    if (a.length != b.length) return a.length > b.length ? 1 : -1;
    for (let i = a.length - 1; i >= 0; i--) {
      if (a[i] != b[i]) return a[i] > b[i] ? 1 : -1;
    }
    return 0;
  }
}
