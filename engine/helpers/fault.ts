// A helper's way to end a run: something the verifier should have made impossible (an argument
// that is not a map, an unwritable destination, a release of memory that is not a reservation).
// The engines turn it into a VmFault; helpers never let a plain JavaScript exception out for these.

export class HelperFault extends Error {
  constructor(
    message: string,
    /** The offending address, when there is one. */
    readonly addr?: number,
  ) {
    super(message);
    this.name = 'HelperFault';
  }
}
