/**
 * Folder names of clembench's results layout: `<results>/<models>/<game>/<experiment>/instance_<5-digit id>/`, where
 * `<models>` joins the `<model_name>-t<temperature>` of the models a run was given with `--` (one model, in self-play:
 * just its own), as clemcore names them, made safe for file names.
 */

/** A number as Python prints a float (`0` → `0.0`, `0.7` → `0.7`), as clemcore writes temperatures. */
export function pythonFloat(value: number): string {
  return Number.isInteger(value) ? value.toFixed(1) : String(value);
}

/** A name safe as one folder name: characters other than letters, digits, `.`, `_`, `+` and `-` become `_`. */
export function safeFolderName(name: string): string {
  const safe = name.replace(/[^A-Za-z0-9._+-]/g, '_');
  return safe === '' || /^\.+$/.test(safe) ? `_${safe}` : safe;
}

/** One model's part of the models folder: `<model_name>-t<temperature>`. */
export function modelDescriptor(modelName: string, temperature: number): string {
  return safeFolderName(`${modelName}-t${pythonFloat(temperature)}`);
}

/** The models folder of a run: the descriptors of the models given, in order, joined by `--`. */
export function modelsFolderName(descriptors: readonly string[]): string {
  return descriptors.join('--');
}

/** An instance's folder: `instance_00003`. */
export function instanceFolderName(gameId: number): string {
  return `instance_${String(gameId).padStart(5, '0')}`;
}
